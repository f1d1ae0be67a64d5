"""Decide which HCPCS group each covered ICD-10 group of an MCD article supports.

The export does not encode the pairing; only the group paragraphs say it, in free text. One HCPCS
group and one covered group pair trivially. Otherwise a pair is taken only from an explicit statement
("... for the CPT codes in Group 2", "Group 1 HCPCS codes", "for CPT codes 93306, 93307"); anything
else — a bare "Group 2", a reference to a group that does not exist, a group no statement names, a
code list that covers part of a group — sends the article to review with no pairs at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from loaders.coverage.mcd_records import McdCodeGroup, McdDiagnosisCode, McdProcedureCode

PairingStatus = Literal["paired", "needs_review"]


@dataclass(frozen=True, slots=True)
class ArticlePairing:
    """``pairs`` holds (hcpc_group, covered_group) numbers; it is empty whenever status is needs_review."""

    status: PairingStatus
    pairs: tuple[tuple[int, int], ...]
    reason: str


_NUMBERS = r"\d+(?:\s*(?:,\s*(?:and|or)?|and|or|&|-|–|through|to)\s*(?:groups?\s*)?\d+)*"
_GROUPS = rf"groups?\s*#?\s*(?P<nums>{_NUMBERS})"
_PROCEDURE_NOUN = r"(?:(?:cpt|hcpcs)(?:\s*(?:/|or|and|&)\s*(?:cpt|hcpcs))?|procedure)\s+codes?"
_DIAGNOSIS_NOUN = r"(?:icd-?10(?:-cm)?\s+(?:diagnosis\s+)?|diagnosis\s+)codes?"
_PLACE = r"\s+(?:(?:listed|found|shown|billed|reported)\s+)?(?:in|of|from|under|within)\s+(?:the\s+)?(?:code\s+)?"


def _references(noun: str, *, necessity_for: bool) -> tuple[re.Pattern[str], ...]:
    """Phrases that name groups of the other list: "<noun> in Group 2", "Group 2 <noun>"."""
    patterns = [rf"\b{noun}{_PLACE}{_GROUPS}", rf"\b{_GROUPS}\s+(?:of\s+(?:the\s+)?)?{noun}"]
    if necessity_for:
        # "support medical necessity for Group 1 codes": diagnoses support procedures, never diagnoses.
        patterns.append(
            rf"\b(?:medical necessity|coverage)\s+for\s+(?:the\s+)?(?:codes\s+in\s+)?{_GROUPS}"
            rf"(?!\s+{_DIAGNOSIS_NOUN})(?:\s+codes?)?"
        )
    return tuple(re.compile(p) for p in patterns)


_TO_PROCEDURE_GROUPS = _references(_PROCEDURE_NOUN, necessity_for=True)
_TO_DIAGNOSIS_GROUPS = _references(_DIAGNOSIS_NOUN, necessity_for=False)
_CODE = r"(?:\d{4}[0-9fFtTuU]|[a-zA-Z]\d{4})"
_CODE_LIST = re.compile(
    rf"\b{_PROCEDURE_NOUN}\s*:?\s*(?P<codes>{_CODE}(?:\s*(?:,\s*(?:and|or)?|and|or|&|-|–|through)\s*{_CODE})*)\b"
)
_ANY_GROUP = re.compile(r"\bgroups?\s*#?\s*\d+")


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower()).strip()


def _numbers(listed: str) -> set[int]:
    """``1, 2 and 4`` -> {1, 2, 4}; ``1-3`` / ``1 through 3`` -> {1, 2, 3}."""
    found: set[int] = set()
    for first, last in re.findall(r"(\d+)(?:\s*(?:-|–|through|to)\s*(?:groups?\s*)?(\d+))?", listed):
        found.update(range(int(first), int(last or first) + 1))
    return found


def _strip_self_label(text: str, group: int) -> str:
    """Drop a leading "Group 2 Paragraph:" / "Group 2 Codes:" label naming the paragraph's own group."""
    label = re.match(r"groups?\s*#?\s*(\d+)\s+(?:paragraph|codes?)\s*:?\s*", text)
    return text[label.end():] if label and int(label[1]) == group else text


def _listed_codes(codes: str, known: set[str]) -> set[str]:
    found: set[str] = set()
    for first, last in re.findall(rf"({_CODE})(?:\s*(?:-|–|through)\s*({_CODE}))?", codes):
        first, last = first.upper(), (last or first).upper()
        found.update(c for c in known if first <= c <= last and len(c) == len(first))
        found.update({first, last})
    return found


def _read_paragraph(
    group: McdCodeGroup,
    patterns: tuple[re.Pattern[str], ...],
    problems: list[str],
) -> tuple[str, set[int]]:
    """Group numbers the paragraph names explicitly, and its text with those phrases removed."""
    text = _strip_self_label(_normal(group.paragraph_text), group.group)
    named: set[int] = set()
    for pattern in patterns:
        for match in pattern.finditer(text):
            named |= _numbers(match["nums"])
        text = pattern.sub(" ", text)
    for leftover in _ANY_GROUP.findall(text):
        problems.append(f"{group.kind} group {group.group} paragraph mentions {leftover!r} without saying "
                        "which list it means")
    return text, named


def pair_code_groups(
    groups: Iterable[McdCodeGroup],
    procedure_codes: Iterable[McdProcedureCode] = (),
    diagnosis_codes: Iterable[McdDiagnosisCode] = (),
) -> ArticlePairing:
    """Pair one article version's HCPCS groups with its covered ICD-10 groups, or flag it for review.

    Group numbers come from the code rows when given (a group with a paragraph but no codes, such as
    "N/A", is not a group to pair), else from the paragraph rows. Non-covered groups take no part.
    """
    groups = list(groups)
    procedure_codes = list(procedure_codes)
    diagnosis_codes = [d for d in diagnosis_codes if d.kind == "covered"]
    keys = {(r.article_id, r.version) for r in (*groups, *procedure_codes, *diagnosis_codes)}
    if len(keys) > 1:
        raise ValueError(f"pair_code_groups takes one article version, got {sorted(keys)}")
    hcpc = {g.group: g for g in groups if g.kind == "hcpc"}
    covered = {g.group: g for g in groups if g.kind == "covered"}
    hcpc_numbers = {c.group for c in procedure_codes} or set(hcpc)
    covered_numbers = {d.group for d in diagnosis_codes} or set(covered)

    if not covered_numbers:
        return ArticlePairing("paired", (), "no covered ICD-10 group: nothing to pair")
    if not hcpc_numbers:
        return ArticlePairing("needs_review", (), "covered ICD-10 groups but no HCPCS group to pair them with")
    if len(hcpc_numbers) == 1 and len(covered_numbers) == 1:
        pair = (next(iter(hcpc_numbers)), next(iter(covered_numbers)))
        return ArticlePairing("paired", (pair,), "one HCPCS group and one covered ICD-10 group")

    problems: list[str] = []
    pairs: set[tuple[int, int]] = set()
    codes_by_group: dict[int, set[str]] = {}
    for code in procedure_codes:
        codes_by_group.setdefault(code.group, set()).add(code.code)
    known_codes = set().union(*codes_by_group.values()) if codes_by_group else set()

    for number in sorted(covered_numbers):
        group = covered.get(number) or McdCodeGroup(0, 0, "covered", number, "", "")
        text, named = _read_paragraph(group, _TO_PROCEDURE_GROUPS, problems)
        for match in _CODE_LIST.finditer(text):
            listed = _listed_codes(match["codes"], known_codes)
            if unknown := sorted(listed - known_codes):
                problems.append(f"covered group {number} names procedure codes {', '.join(unknown)} "
                                "that no HCPCS group of the article lists")
            for h, codes in codes_by_group.items():
                if codes <= listed:
                    named.add(h)
                elif codes & listed:
                    problems.append(f"covered group {number} names only part of HCPCS group {h}")
        if missing := sorted(named - hcpc_numbers):
            problems.append(f"covered group {number} names HCPCS group(s) {missing} that the article lacks")
        pairs |= {(h, number) for h in named & hcpc_numbers}

    for number in sorted(hcpc_numbers):
        group = hcpc.get(number) or McdCodeGroup(0, 0, "hcpc", number, "", "")
        _, named = _read_paragraph(group, _TO_DIAGNOSIS_GROUPS, problems)
        if missing := sorted(named - covered_numbers):
            problems.append(f"HCPCS group {number} names covered group(s) {missing} that the article lacks")
        pairs |= {(number, c) for c in named & covered_numbers}

    if unpaired := sorted(covered_numbers - {c for _, c in pairs}):
        problems.append(f"no paragraph says which HCPCS group covered group(s) {unpaired} support")
    if unpaired := sorted(hcpc_numbers - {h for h, _ in pairs}):
        problems.append(f"no paragraph pairs HCPCS group(s) {unpaired} with a covered group")
    if problems:
        return ArticlePairing("needs_review", (), "; ".join(problems))
    named_pairs = ", ".join(f"HCPCS {h} + ICD {c}" for h, c in sorted(pairs))
    return ArticlePairing("paired", tuple(sorted(pairs)), f"paragraphs name the pairs: {named_pairs}")
