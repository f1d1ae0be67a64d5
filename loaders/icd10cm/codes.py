"""The shape of an ICD-10-CM code: dotted and dotless forms, structural ordering and ranges."""

from __future__ import annotations

import re

# A category is a letter then two letters/digits: A00, C4A, O9A, and since FY2026 QA0 (letter 2nd).
CATEGORY = r"[A-Z][0-9A-Z][0-9A-Z]"
DOTLESS_CODE = re.compile(rf"{CATEGORY}[0-9A-Z]{{0,4}}")
DOTTED_CODE = re.compile(rf"{CATEGORY}(?:\.[0-9A-Z]{{1,4}})?")


def strip_dot(code: str) -> str:
    """``A00.1`` -> ``A001``; a code without a dot is returned unchanged."""
    return code.replace(".", "")


def add_dot(code: str) -> str:
    """``A001`` -> ``A00.1``: the dot goes after the 3rd character when the code is longer than 3."""
    bare = strip_dot(code.strip())
    return bare if len(bare) <= 3 else f"{bare[:3]}.{bare[3:]}"


def code_sort_key(code: str) -> str:
    """Order codes as the tabular does, position by position: digits before letters, shorter first.

    Works on dotted or dotless codes and ignores a trailing ``-`` ("any code under"), so
    ``O9A.1`` sorts after ``O99.8`` and ``C4A`` between ``C49`` and ``C50``. A code is digits and capital
    letters, and ASCII puts every digit before every capital: the bare code itself is the key (a string
    compares position by position, a prefix first), so 100k keys cost no tuple per character.
    """
    return strip_dot(code.strip().upper()).rstrip("-")


def in_range(code: str, first: str, last: str) -> bool:
    """Whether ``code`` lies in ``first``–``last`` inclusive, compared at each endpoint's length.

    ``A04.31`` is in ``A04.0-A04.4`` (its prefix ``A04.3`` is); ``O9A.211`` is in ``O00-O9A``
    (its category ``O9A`` is). A code shorter than an endpoint is not inside a finer range.
    """
    bare = strip_dot(code.upper()).rstrip("-")
    lo = strip_dot(first.upper()).rstrip("-")
    hi = strip_dot(last.upper()).rstrip("-")
    if len(bare) < len(lo) or len(bare) < len(hi):
        return False
    return code_sort_key(lo) <= code_sort_key(bare[: len(lo)]) and code_sort_key(bare[: len(hi)]) <= (code_sort_key(hi))
