"""The shape of a procedure code as coverage sources write it."""

from __future__ import annotations

import re

# CPT (5 digits, or 4 digits + F/T/U for Category II/III and PLA) or HCPCS Level II (letter + 4 digits).
PROCEDURE_CODE = re.compile(r"\d{4}[0-9FTU]|[A-Z]\d{4}")
