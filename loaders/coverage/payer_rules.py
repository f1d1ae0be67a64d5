"""Commercial payer coverage rules written as YAML (format in docs/payer-rules.md), validated with pydantic.

``load_payer_rules(path)`` returns a ``PayerRules`` model or raises ``PayerRulesError`` naming the file,
the YAML path of the bad value (``policies[2].procedures[0]``) and its line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from loaders.coverage.code_shapes import PROCEDURE_CODE
from loaders.errors import ParseError
from loaders.icd10cm.codes import DOTTED_CODE, add_dot, code_sort_key
from loaders.input_checks import check_file_size

__all__ = [
    "DiagnosisSpec",
    "EffectiveWindow",
    "FrequencyLimit",
    "Payer",
    "PayerPolicy",
    "PayerRules",
    "PayerRulesError",
    "Plan",
    "PriorAuthorization",
    "ProcedureSpec",
    "iter_payer_rules",
    "load_payer_rules",
]

FORMAT = "codegraph-payer-rules/1"
_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
_STRICT = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _split_range(text: str) -> tuple[str, str | None]:
    first, dash, last = (part.strip() for part in text.partition("-"))
    return first, (last if dash else None)


def _only_keys(data: dict[str, Any], allowed: set[str]) -> None:
    if unknown := sorted(set(data) - allowed):
        raise ValueError(f"unknown field {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")


class ProcedureSpec(BaseModel):
    """A CPT/HCPCS code or an inclusive range of codes of the same shape (``93303-93308``)."""

    model_config = _STRICT
    kind: Literal["code", "range"]
    code: str
    code_to: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: Any) -> Any:
        if isinstance(data, int) and not isinstance(data, bool):
            data = str(data)  # an unquoted 93306; a code with leading zeros must be quoted
        if isinstance(data, dict):
            _only_keys(data, {"code", "range"})
            if len(data) != 1:
                raise ValueError("give exactly one of 'code' or 'range'")
            data = str(next(iter(data.values())))
        if not isinstance(data, str):
            raise ValueError("a procedure code ('93306') or range ('93303-93308')")
        first, last = (part.upper() if part else part for part in _split_range(data))
        for part in (first, last):
            if part is not None and not PROCEDURE_CODE.fullmatch(part):
                raise ValueError(f"{part!r} is not a CPT/HCPCS code (5 characters: 93306, 0042T, G0121)")
        if last is None:
            return {"kind": "code", "code": first}
        if first[0].isalpha() != last[0].isalpha() or first[-1].isalpha() != last[-1].isalpha() or first > last:
            raise ValueError(f"range {data!r} must run from low to high between codes of the same shape")
        return {"kind": "range", "code": first, "code_to": last}


class DiagnosisSpec(BaseModel):
    """An ICD-10-CM code, a range (``I50.1-I50.9``, read as the tabular reads ranges) or a hierarchy.

    ``hierarchy`` means the code and every code below it in the ICD-10-CM tree (``I50`` covers
    ``I50.22``); the graph answers which codes those are.
    """

    model_config = _STRICT
    kind: Literal["code", "range", "hierarchy"]
    code: str  # dotted
    code_to: str | None = None
    note: str = ""

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: Any) -> Any:
        note, descendants = "", False
        if isinstance(data, dict):
            _only_keys(data, {"code", "range", "include_descendants", "note"})
            if ("code" in data) == ("range" in data):
                raise ValueError("give exactly one of 'code' or 'range'")
            note = str(data.get("note") or "")
            descendants = data.get("include_descendants", False)
            if not isinstance(descendants, bool):
                raise ValueError("include_descendants must be true or false")
            if descendants and "range" in data:
                raise ValueError("include_descendants applies to a code; a range already includes its codes")
            data = data.get("code", data.get("range"))
        if isinstance(data, int | float) and not isinstance(data, bool):
            data = str(data)  # an unquoted 150.9 (digit one for letter I) reaches here as a float
        if not isinstance(data, str):
            raise ValueError("an ICD-10-CM code ('I50.9'), range ('I50.1-I50.9') or {code, include_descendants}")
        first, last = (add_dot(part.upper()) if part else part for part in _split_range(data))
        for part in (first, last):
            if part is not None and not DOTTED_CODE.fullmatch(part):
                raise ValueError(f"{part!r} is not an ICD-10-CM code (letter, 2 characters, optional .1-4: I50.22)")
        if last is None:
            return {"kind": "hierarchy" if descendants else "code", "code": first, "note": note}
        if code_sort_key(first) > code_sort_key(last):
            raise ValueError(f"range {data!r} runs backwards")
        return {"kind": "range", "code": first, "code_to": last, "note": note}


class EffectiveWindow(BaseModel):
    model_config = _STRICT
    start: date = Field(alias="from")
    end: date | None = Field(default=None, alias="to")  # None: still in force

    @model_validator(mode="after")
    def _ordered(self) -> EffectiveWindow:
        if self.end is not None and self.end < self.start:
            raise ValueError(f"'from' {self.start} is after 'to' {self.end}")
        return self


class PriorAuthorization(BaseModel):
    model_config = _STRICT
    required: bool
    notes: str = ""

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"required": data} if isinstance(data, bool) else data


_PERIOD = re.compile(r"(\d+)\s*(?:per|/|every)\s*(?:(\d+)\s*)?(day|week|month|year|lifetime)s?")


class FrequencyLimit(BaseModel):
    """``count`` services per ``period`` ``unit`` (``1 per 12 months``); ``lifetime`` has no period length."""

    model_config = _STRICT
    count: int = Field(gt=0)
    period: int | None = Field(default=None, gt=0)
    unit: Literal["day", "week", "month", "year", "lifetime"]

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: Any) -> Any:
        if not isinstance(data, str):
            return data
        match = _PERIOD.fullmatch(data.strip().lower())
        if not match:
            raise ValueError(f"{data!r} is not a frequency like '1 per 12 months' or '1 per lifetime'")
        count, period, unit = match.groups()
        if unit == "lifetime":
            if period:
                raise ValueError("'lifetime' takes no number")
            return {"count": int(count), "unit": unit}
        return {"count": int(count), "period": int(period or 1), "unit": unit}

    @model_validator(mode="after")
    def _period_fits_unit(self) -> FrequencyLimit:
        if (self.unit == "lifetime") != (self.period is None):
            raise ValueError("a lifetime limit has no period; every other unit needs one")
        return self


class Payer(BaseModel):
    model_config = _STRICT
    id: str = Field(pattern=_ID)
    name: str = Field(min_length=1)


class Plan(BaseModel):
    model_config = _STRICT
    id: str = Field(pattern=_ID)
    name: str = Field(min_length=1)


class PayerPolicy(BaseModel):
    model_config = _STRICT
    id: str = Field(pattern=_ID)
    version: int = Field(ge=1)
    title: str = Field(min_length=1)
    plans: tuple[str, ...] | None = None  # None: every plan of the payer
    effective: EffectiveWindow
    procedures: tuple[ProcedureSpec, ...] = Field(min_length=1)
    covered_diagnoses: tuple[DiagnosisSpec, ...] = ()
    noncovered_diagnoses: tuple[DiagnosisSpec, ...] = ()
    prior_authorization: PriorAuthorization = PriorAuthorization(required=False)
    frequency_limits: tuple[FrequencyLimit, ...] = ()
    notes: str = ""


class PayerRules(BaseModel):
    model_config = _STRICT
    format: Literal["codegraph-payer-rules/1"]
    payer: Payer
    plans: tuple[Plan, ...] = Field(min_length=1)
    policies: tuple[PayerPolicy, ...] = ()


class PayerRulesError(ParseError):
    """Every problem of one payer file; the first one fills ``line``/``field`` and the message lists all."""

    def __init__(self, file: str | Path, problems: list[tuple[str, int | None, str]]) -> None:
        path, line, message = problems[0]
        super().__init__(file, line, path or None, message)
        self.problems = problems
        if len(problems) > 1:
            listed = "; ".join(f"line {ln} {p}: {m}" for p, ln, m in problems[1:])
            self.args = (f"{self.args[0]} (and {len(problems) - 1} more: {listed})",)


# Documented caps: payer files are hand-written YAML of a few hundred KB; notes and titles are a paragraph.
MAX_FILE_BYTES = 4 << 20
MAX_SCALAR_CHARS = 4_000


def _yaml_path(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _node_lines(node: yaml.Node, file: Path, path: tuple[str | int, ...] = (),
                lines: dict[tuple[str | int, ...], int] | None = None) -> dict[tuple[str | int, ...], int]:
    """Map each YAML path to its 1-based line; refuse duplicate keys, which PyYAML would silently drop."""
    lines = {} if lines is None else lines
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.ScalarNode) and len(str(node.value)) > MAX_SCALAR_CHARS:
        raise PayerRulesError(file, [(_yaml_path(path), node.start_mark.line + 1,
                                      f"at most {MAX_SCALAR_CHARS:,} characters ({len(str(node.value)):,} found)")])
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value)
            if name in seen:
                raise PayerRulesError(file, [(_yaml_path((*path, name)), key.start_mark.line + 1,
                                              "each key once (this one is repeated)")])
            seen.add(name)
            _node_lines(value, file, (*path, name), lines)
            lines[(*path, name)] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _node_lines(item, file, (*path, index), lines)
    return lines


def _line_of(loc: tuple[str | int, ...], lines: dict[tuple[str | int, ...], int]) -> int | None:
    for end in range(len(loc), -1, -1):  # the deepest part of the path that exists in the file
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _expected(error: Any) -> str:
    """Pydantic's message turned into what the file should have held."""
    if error["type"] == "extra_forbidden":
        return "a known field (this one is not part of the format; see docs/payer-rules.md)"
    if error["type"] == "missing":
        return "this required field"
    return str(error["msg"]).removeprefix("Value error, ")


def load_payer_rules(path: Path) -> PayerRules:
    """Read and validate one payer file; plan references and policy ids are checked across the file."""
    check_file_size(path, MAX_FILE_BYTES, "payer rules file")
    try:
        text = path.read_text(encoding="utf-8-sig")
        _refuse_aliases(path, text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except UnicodeDecodeError as err:
        raise ParseError(path, None, None, "UTF-8 text", f"byte {err.object[err.start:err.start + 1]!r}") from err
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise PayerRulesError(path, [("", mark.line + 1 if mark else None,
                                      f"valid YAML ({getattr(err, 'problem', None) or err})")]) from err
    if not isinstance(data, dict) or node is None:
        raise PayerRulesError(path, [("", 1, "a mapping with format, payer, plans and policies")])
    lines = _node_lines(node, path)
    try:
        rules = PayerRules.model_validate(data)
    except ValidationError as err:
        problems = [(_yaml_path(e["loc"]), _line_of(e["loc"], lines), _expected(e)) for e in err.errors()]
        raise PayerRulesError(path, problems) from err
    problems = []
    plan_ids = {plan.id for plan in rules.plans}
    seen: set[str] = set()
    for i, policy in enumerate(rules.policies):
        if policy.id in seen:
            problems.append((f"policies[{i}].id", _line_of(("policies", i, "id"), lines),
                             f"a policy id used once ({policy.id!r} is repeated)"))
        seen.add(policy.id)
        for j, plan in enumerate(policy.plans or ()):
            if plan not in plan_ids:
                loc = ("policies", i, "plans", j)
                problems.append((_yaml_path(loc), _line_of(loc, lines), f"a plan id listed under plans ({plan!r})"))
    if not rules.policies:
        problems.append(("policies", _line_of(("policies",), lines), "at least one policy (an empty list loads "
                         "nothing)"))
    if problems:
        raise PayerRulesError(path, problems)
    return rules


def _refuse_aliases(path: Path, text: str) -> None:
    """No YAML anchors or aliases: a payer file is written out in full, and an alias chain can multiply a small
    file into a huge document (the YAML form of an entity expansion)."""
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise PayerRulesError(path, [("", event.start_mark.line + 1, "no YAML anchors (&) or aliases (*)")])


def iter_payer_rules(folder: Path) -> Iterator[PayerRules]:
    """Every ``*.yaml``/``*.yml`` payer file in a folder, in name order."""
    for path in sorted(p for p in folder.iterdir() if p.suffix in {".yaml", ".yml"}):
        yield load_payer_rules(path)
