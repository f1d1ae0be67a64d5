"""The coding-rules file (``coding_rules_*.yaml``): guideline sections, the evaluation's checks, modifier rules.

``read_coding_rules(path)`` returns a checked ``CodingRules`` or raises ``ParseError`` naming the file, the
YAML path of the bad value (``checks[3].guidelines``) and what was expected.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from loaders.errors import ParseError

FORMAT = "codegraph-coding-rules/1"
BUNDLED = Path(__file__).resolve().parent / "coding_rules_fy2026.yaml"
_STRICT = ConfigDict(extra="forbid", frozen=True)
Family = Literal["valid", "compliant", "supported", "optimal", "history"]
ModifierKind = Literal["distinct_service", "anatomic", "laterality", "global_surgery", "other_ncci", "bilateral"]


class GuidelineSpec(BaseModel):
    model_config = _STRICT
    section: str = Field(pattern=r"^(I|II|III|IV|App\.I)(\.[A-Z0-9]+(\.[a-z0-9]+)*)?$", max_length=30)
    title: str = Field(min_length=1, max_length=200)
    statement: str = Field(min_length=1, max_length=600)


class CheckSpec(BaseModel):
    model_config = _STRICT
    check: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)
    family: Family
    title: str = Field(min_length=1, max_length=200)
    note_type: str | None = Field(default=None, pattern=r"^[A-Z0-9_]+$")
    guidelines: tuple[str, ...] = ()


class ModifierGroup(BaseModel):
    model_config = _STRICT
    kind: ModifierKind
    modifiers: tuple[str, ...] = Field(min_length=1)
    bypasses_ptp: bool
    same_on_both_lines_bypasses: bool = True
    statement: str = Field(min_length=1, max_length=600)

    @model_validator(mode="after")
    def _shapes(self) -> ModifierGroup:
        if bad := [m for m in self.modifiers if not re.fullmatch(r"[0-9A-Z]{2}", m)]:
            raise ValueError(f"a modifier is two upper-case letters or digits; got {bad}")
        return self


class CodingRules(BaseModel):
    model_config = _STRICT
    format: Literal["codegraph-coding-rules/1"]
    guideline_document: str = Field(min_length=1, max_length=200)
    fiscal_year: int = Field(ge=2015, le=2100)
    guidelines: tuple[GuidelineSpec, ...] = Field(min_length=1)
    checks: tuple[CheckSpec, ...] = Field(min_length=1)
    modifiers: tuple[ModifierGroup, ...] = ()

    @model_validator(mode="after")
    def _references(self) -> CodingRules:
        sections = [g.section for g in self.guidelines]
        if repeated := sorted({s for s in sections if sections.count(s) > 1}):
            raise ValueError(f"guideline sections listed twice: {repeated}")
        checks = [c.check for c in self.checks]
        if repeated := sorted({c for c in checks if checks.count(c) > 1}):
            raise ValueError(f"checks listed twice: {repeated}")
        for i, check in enumerate(self.checks):
            if unknown := [s for s in check.guidelines if s not in sections]:
                raise ValueError(f"checks[{i}] ({check.check}) names guideline sections not listed: {unknown}")
        mods = [m for group in self.modifiers for m in group.modifiers]
        if repeated := sorted({m for m in mods if mods.count(m) > 1}):
            raise ValueError(f"modifiers in two groups: {repeated}")
        return self


def read_coding_rules(path: Path) -> CodingRules:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ParseError(path, None, None, "a readable UTF-8 YAML file", str(exc)[:200]) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ParseError(path, mark.line + 1 if mark else None, None, "well-formed YAML",
                         str(getattr(exc, "problem", exc))) from exc
    if not isinstance(data, dict):
        raise ParseError(path, None, None, f"a mapping with format: {FORMAT}", type(data).__name__)
    try:
        return CodingRules.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in err["loc"]).replace(".[", "[")
        raise ParseError(path, None, where or None, err["msg"], repr(err.get("input"))[:200]) from exc
