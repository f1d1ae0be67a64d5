"""Seeded synthetic NCCI tables at release scale, written in the exact official layouts.

They exist to exercise the loaders at the size of a real quarter (the practitioner PTP table has
millions of rows) without shipping CMS's files: the same parsers read them. Code numbers fall in
real CPT ranges and HCPCS shapes; the pairs, dates and values are random, not real edits.
"""

from __future__ import annotations

import csv
import random
from datetime import date, timedelta
from pathlib import Path

from loaders.ncci.common import NcciSetting

CPT_RANGES = ((10004, 69990), (70010, 79999), (80047, 89398), (90281, 99607))
HCPCS_LETTERS = "ACEGHJKLQ"
PTP_RATIONALES = (
    "Misuse of column two code with column one code",
    "Mutually exclusive procedures",
    "CPT Manual or CMS manual coding instructions",
    "Standards of medical / surgical practice",
    "HCPCS/CPT procedure code definition",
    "More extensive procedure",
    "Gender-specific procedures",
    "Sequential procedure",
)
MUE_RATIONALES = (
    "Anatomic Consideration",
    "Code Descriptor / CPT Instruction",
    "Clinical: Data",
    "CMS Policy",
    "Nature of Service/Procedure",
    "Clinical: Society Comment",
)
MAI_TEXTS = {1: "1 Line Edit", 2: "2 Date of Service Edit: Policy", 3: "3 Date of Service Edit: Clinical"}
MUE_VALUE_HEADERS = {
    NcciSetting.PRACTITIONER: "Practitioner Services MUE Values",
    NcciSetting.OUTPATIENT_HOSPITAL: "Outpatient Hospital Services MUE Values",
    NcciSetting.DME: "DME Supplier Services MUE Values",
}
# Banner, title and the header wrapped over four lines, as in the CMS TXT release.
PTP_PREAMBLE = (
    "CPT codes and descriptions only are copyright American Medical Association. Synthetic test data.",
    "Column1/Column2 Edits",
    "Column 1\tColumn 2\t*=in existence\tEffective\tDeletion\tModifier\tPTP Edit Rationale",
    "\t\tprior\tDate\tDate\t0=not allowed\t",
    "\t\tto 1996\t\t*=no data\t1=allowed\t",
    "\t\t\t\t\t9=not applicable\t",
)
MUE_NOTICE = (
    "Synthetic MUE table for testing.\nCPT codes only are copyright American Medical Association.\n"
    "Not for billing."
)
_QUARTERS = [date(year, month, 1) for year in range(1996, 2026) for month in (1, 4, 7, 10)]


def code_pool(rng: random.Random, size: int) -> list[str]:
    """``size`` distinct 5-character codes: mostly CPT, some Category III and HCPCS Level II, sorted."""
    codes: set[str] = set()
    widths = [hi - lo for lo, hi in CPT_RANGES]
    while len(codes) < size:
        kind = rng.random()
        if kind < 0.75:
            lo, hi = rng.choices(CPT_RANGES, weights=widths)[0]
            codes.add(f"{rng.randint(lo, hi):05d}")
        elif kind < 0.80:
            codes.add(f"{rng.randint(42, 999):04d}T")
        else:
            codes.add(f"{rng.choice(HCPCS_LETTERS)}{rng.randint(1, 9999):04d}")
    return sorted(codes)


def _windows(rng: random.Random, count: int) -> list[tuple[date, date | None, int]]:
    """``count`` non-overlapping (effective, deletion, indicator) windows for one pair, oldest first."""
    start = rng.randrange(len(_QUARTERS) - count * 4)  # leaves room for the later windows
    windows: list[tuple[date, date | None, int]] = []
    for i in range(count):
        effective = _QUARTERS[start]
        roll = rng.random()
        indicator = 1 if roll < 0.80 else 0 if roll < 0.97 else 9
        if indicator == 9:  # withdrawn retroactively: deleted on the day it took effect
            windows.append((effective, effective, 9))
            start += 1
        elif i == count - 1 and rng.random() < 0.85:
            windows.append((effective, None, indicator))
        else:
            start = rng.randrange(start + 1, min(len(_QUARTERS) - (count - i - 1) * 2, start + 40))
            windows.append((effective, _QUARTERS[start] - timedelta(days=1), indicator))
    return windows


def _row_counts(rng: random.Random, pool: list[str], n_rows: int) -> list[int]:
    """Rows per column-1 code: heavy-tailed like the real table, summing to ``n_rows``."""
    cap = len(pool) // 2
    weights = [rng.paretovariate(1.3) for _ in pool]
    total = sum(weights)
    counts = [min(cap, int(w / total * n_rows)) for w in weights]
    short = n_rows - sum(counts)
    index = 0
    while short > 0:
        if counts[index] < cap:
            counts[index] += 1
            short -= 1
        index = (index + 1) % len(pool)
    return counts


def write_synthetic_ptp(path: Path, n_rows: int = 1_500_000, seed: int = 0) -> int:
    """Write a PTP TXT table of exactly ``n_rows`` edit rows (CRLF); return the row count.

    Name the file ``ccipra…`` or ``ccioph…`` so the parser infers the setting, or pass it to the parser.
    """
    rng = random.Random(seed)
    pool = code_pool(rng, max(200, min(16_000, n_rows // 100)))
    written = 0
    with path.open("w", encoding="ascii", newline="\r\n") as out:
        out.write("\n".join(PTP_PREAMBLE) + "\n")
        for column1, count in zip(pool, _row_counts(rng, pool, n_rows), strict=True):
            if count == 0:
                continue
            partners = iter(sorted(code for code in rng.sample(pool, count + 1) if code != column1))
            left = count
            while left > 0:
                column2 = next(partners)
                windows = 1 if left < 2 or rng.random() >= 0.04 else min(left, rng.choice((2, 2, 2, 3)))
                for effective, deletion, indicator in _windows(rng, windows):
                    prior = "*" if effective == _QUARTERS[0] else ""
                    out.write(
                        f"{column1}\t{column2}\t{prior}\t{effective:%Y%m%d}\t"
                        f"{'*' if deletion is None else f'{deletion:%Y%m%d}'}\t{indicator}\t"
                        f"{rng.choice(PTP_RATIONALES)}\n"
                    )
                left -= windows
                written += windows
    return written


def write_synthetic_mue(
    path: Path, setting: NcciSetting = NcciSetting.PRACTITIONER, n_codes: int = 15_000, seed: int = 0
) -> int:
    """Write an MUE CSV for ``setting`` with ``n_codes`` code rows (CRLF, quoted notice); return the count."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([MUE_NOTICE, "", "", ""])
        writer.writerow(
            ["HCPCS/\nCPT Code", MUE_VALUE_HEADERS[setting], "MUE Adjudication Indicator", "MUE Rationale"]
        )
        for code in code_pool(rng, n_codes):
            value = rng.choices((0, 1, 2, 3, 4, 6, 10, 20, 100), weights=(2, 50, 15, 8, 6, 5, 6, 5, 3))[0]
            mai = rng.choices((1, 2, 3), weights=(20, 30, 50))[0]
            writer.writerow([code, value, MAI_TEXTS[mai], rng.choice(MUE_RATIONALES)])
    return n_codes


def write_synthetic_ptp_update(base: Path, path: Path, effective: date, share: float = 0.015,
                               seed: int = 0) -> dict[str, int]:
    """Write the next quarter of the PTP table ``base`` (as ``write_synthetic_ptp`` made it) to ``path``: about
    ``share`` of its rows changed, a third each way — dropped, changed (an open edit deleted the day before
    ``effective``, or its modifier indicator flipped 0 ↔ 1) and added (a new pair of a row's column-1 code with
    another code of the table, in force from ``effective``). Returns the counts of each."""
    rng = random.Random(seed)
    lines = base.read_text(encoding="ascii").splitlines()
    head, rows = lines[: len(PTP_PREAMBLE)], lines[len(PTP_PREAMBLE):]
    pairs = {tuple(row.split("\t", 2)[:2]) for row in rows}
    pool = sorted({code for pair in pairs for code in pair})
    counts = {"dropped": 0, "changed": 0, "added": 0, "rows": 0}
    out: list[str] = []
    for row in rows:
        roll = rng.random()
        if roll < share / 3:
            counts["dropped"] += 1
            continue
        if roll < share * 2 / 3:
            cells = row.split("\t")
            if cells[4] == "*" and cells[5] != "9" and rng.random() < 0.5:
                cells[4] = f"{effective - timedelta(days=1):%Y%m%d}"
            elif cells[5] in ("0", "1"):
                cells[5] = "1" if cells[5] == "0" else "0"
            else:
                cells[6] = rng.choice([r for r in PTP_RATIONALES if r != cells[6]])
            row = "\t".join(cells)
            counts["changed"] += 1
        out.append(row)
        if roll > 1 - share / 3:
            column1 = row.split("\t", 1)[0]
            column2 = rng.choice(pool)
            if column2 != column1 and (column1, column2) not in pairs:
                pairs.add((column1, column2))
                out.append(f"{column1}\t{column2}\t\t{effective:%Y%m%d}\t*\t{rng.choice((0, 1, 1, 1))}\t"
                           f"{rng.choice(PTP_RATIONALES)}")
                counts["added"] += 1
    counts["rows"] = len(out)
    path.write_text("\r\n".join(head + out) + "\r\n", encoding="ascii", newline="")
    return counts
