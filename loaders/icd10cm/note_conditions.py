"""Conditions written into ICD-10-CM notes, kept as data instead of prose.

Two kinds:

* a **condition** on the instruction ("Use additional code, if applicable, to identify: …",
  "Code first, if known, …"): the note applies only in some cases, so validation reports an unmet
  one as *conditional*, not *unmet*;
* a **qualifier** on a reference ("(E08-E13 with .42)", "(T36-T50 with fifth or sixth character 5)",
  "(I69. with final characters -91)"): the note points only at the codes of the range the qualifier
  selects (E08.42, E09.42, …), not at the whole range.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from loaders.icd10cm.codes import strip_dot

# Phrases that make an instruction apply only in some cases.
_CONDITION = re.compile(r"\bif (applicable|known|present)\b", re.IGNORECASE)
# A parenthetical group of a note: "(T36-T50 with fifth or sixth character 5)".
_GROUP = re.compile(r"\(([^()]*)\)")
_WITH = re.compile(r"\bwith\s+(?P<qualifier>.+)$", re.IGNORECASE)
# Character position → index in the dotless code.
_ORDINALS = {"fifth": 4, "sixth": 5, "six": 5, "seventh": 6, "5th": 4, "6th": 5, "7th": 6}
_ORDINAL = r"(?:fifth|sixth|six|seventh|5th|6th|7th)"
_POSITION = re.compile(rf"^(?P<where>{_ORDINAL}(?:\s+or\s+{_ORDINAL})*)[\s-]+characters?\s+(?P<values>[0-9A-Z].*)$",
                       re.I)
# "fifth to sixth characters 51": the characters from one position on read as written.
_SPAN = re.compile(rf"^(?P<first>{_ORDINAL})\s+to\s+{_ORDINAL}\s+characters?\s+(?P<values>.+)$", re.I)
_FINAL = re.compile(r"^(?:final|last)\s+characters?\s+(?P<values>.+)$", re.IGNORECASE)
_SUFFIXES = re.compile(r"^\.[0-9A-Z]")

QualifierKind = Literal["position", "span", "final", "suffix"]


def note_condition(text: str) -> str | None:
    """"if applicable" / "if known" / "if present" when the note says it, else None."""
    found = _CONDITION.search(text)
    return found.group(0).lower() if found else None


@dataclass(frozen=True, slots=True)
class Qualifier:
    """Which codes of a referenced range a note means.

    ``position``: a character at one of ``positions`` (0-based, dotless) is one of ``values``;
    ``span``: the characters from ``positions[0]`` on read as one of ``values``;
    ``final``: a final code (no subdivisions but a 7th character) ends in one of ``values``;
    ``suffix``: the code is its category followed by one of ``values`` (".42").
    """

    text: str  # as written after "with"
    kind: QualifierKind
    values: tuple[str, ...]
    positions: tuple[int, ...] = ()

    def selects(self, code: str, final: bool) -> bool:
        bare = strip_dot(code)
        if self.kind == "position":
            return any(len(bare) > p and bare[p] in self.values for p in self.positions)
        if self.kind == "span":
            return any(bare[self.positions[0]:self.positions[0] + len(v)] == v for v in self.values)
        if self.kind == "final":
            return final and any(bare.endswith(v) for v in self.values)
        return code[3:] in self.values


def _characters(values: str) -> tuple[str, ...]:
    """"1-4" → 1, 2, 3, 4; "A" → A; "5" → 5."""
    chars: list[str] = []
    for token in re.findall(r"[0-9A-Z](?:\s*-\s*[0-9A-Z])?", values):
        ends = [t.strip() for t in token.split("-")]
        if len(ends) == 2 and ends[0] <= ends[1]:
            chars += [chr(c) for c in range(ord(ends[0]), ord(ends[1]) + 1)]
        else:
            chars.append(ends[0])
    return tuple(dict.fromkeys(chars))


def parse_qualifier(text: str) -> Qualifier | None:
    """The qualifier after "with", or None when the words are not one this module understands."""
    text = " ".join(text.split())
    if found := _SPAN.match(text):
        values = tuple(re.findall(r"[0-9A-Z]{2,}", found["values"]))
        return Qualifier(text, "span", values, (_ORDINALS[found["first"].lower()],)) if values else None
    if found := _POSITION.match(text):
        positions = tuple(_ORDINALS[w.lower()] for w in re.findall(rf"\b{_ORDINAL}\b", found["where"], re.I))
        values = _characters(found["values"])
        return Qualifier(text, "position", values, positions) if values else None
    if found := _FINAL.match(text):
        values = tuple(v for v in (t.replace(".", "").strip("-") for t in re.split(r",|\bor\b|\band\b|\s",
                                                                                   found["values"])) if v)
        return Qualifier(text, "final", values) if values else None
    if _SUFFIXES.match(text):
        values = tuple(dict.fromkeys(re.findall(r"\.[0-9A-Z]+", text)))
        return Qualifier(text, "suffix", values) if values else None
    return None


def qualifier_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, qualifier text) for each parenthetical group that qualifies its references with "with …";
    a reference written inside ``start``–``end`` takes that qualifier."""
    spans = []
    for group in _GROUP.finditer(text):
        found = _WITH.search(group.group(1))
        if found:
            start = group.start(1)
            spans.append((start, start + found.start(), found["qualifier"].strip()))
    return spans
