"""Load commercial payer rule files (docs/payer-rules.md) as payer policies, and the coverage-graph writer
that both coverage loaders (this one and ``load_mcd``) share.

The graph both write (every relationship carries ``release`` and ``load_run``)::

    (:Payer {id, name})<-[:ISSUED_BY]-(:PayerPolicy {key, payer, document_id, version, kind, title,
                                                     effective_from, effective_to, needs_review, ...})
    (:PayerPolicy)-[:IN_RELEASE]->(:Release)
    (:PayerPolicy)-[:HAS_RULE]->(:PolicyRule {key, policy, rule_id, restricts_diagnoses, prior_authorization, ...})
    (:Code)-[:COVERED_BY {listed_as}]->(:PolicyRule)                      procedures (CPT, HCPCS)
    (:PolicyRule)-[:COVERS_DIAGNOSIS {scope, listed_as, paired, ...}]->(:Code)     supporting diagnoses
    (:PolicyRule)-[:DENIES_DIAGNOSIS {scope, listed_as, ...}]->(:Code)             explicit denials

A load is a snapshot of the payer's documents: the policy and rule nodes of each release are its own
(key ``<release>|<payer>|<document>|<version>``), so a later snapshot never rewrites what an earlier one
said, and the service reads the newest visible release that holds a payer's policies.

How the YAML forms become edges:

- a procedure range (``93303-93308``) is expanded numerically to every code between the endpoints (CPT
  ``93303`` … ``93308``; ``0042T-0045T`` and ``G0104-G0106`` step the digits), at most
  ``MAX_PROCEDURE_RANGE`` codes; each edge keeps ``listed_as: "93303-93308"``;
- a diagnosis hierarchy (``include_descendants``) is one edge to the code with ``scope: 'descendants'``;
- a diagnosis range (``I48.0-I48.21``) is expanded at load time against the codes of every visible
  ICD-10-CM release when one is loaded: one edge per top-most code inside the range, ``scope:
  'descendants'`` (every code below a code inside the range is inside it too). Without a loaded
  ICD-10-CM release the edges go to the endpoints' categories (and the all-digit categories between
  them) with ``scope: 'descendants'``. Either way the edge keeps ``range_from``/``range_to`` and the
  service admits a diagnosis through it only when ``diagnosis_in_range`` holds, so both forms answer
  alike; the expanded form also lets release impact analysis find the rule through the codes it names.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neo4j import RoutingControl

from loaders.coverage.payer_rules import (
    DiagnosisSpec,
    FrequencyLimit,
    PayerRules,
    ProcedureSpec,
    load_payer_rules,
)
from loaders.errors import LoadError, ParseError
from loaders.icd10cm.codes import DOTTED_CODE, add_dot, code_sort_key, strip_dot
from loaders.machinery.pipeline import LoadContext
from loaders.registry import register
from ontology.code_systems import CodeSystem, system
from ontology.release_ranges import in_release
from ontology.vocabulary import L, R, labels_for, seek_by_key

ICD10CM = system("icd10cm")
CPT = system("cpt")
HCPCS = system("hcpcs")
MAX_PROCEDURE_RANGE = 1000


# ---- ranges ---------------------------------------------------------------------------------------------
def diagnosis_in_range(code: str, first: str, last: str) -> bool:
    """Whether ``code`` and every code below it lie in ``first``–``last``, as the tabular reads ranges.

    At or beyond an endpoint's length the code's prefix is compared with the endpoint (``I48.11`` is in
    ``I48.0-I48.21``). A code shorter than an endpoint is inside only when strictly between the
    endpoints at its own length (``I48.1`` is inside, ``I48.2`` is not: ``I48.22`` would fall outside).
    """
    bare, lo, hi = (strip_dot(c.strip().upper()) for c in (code, first, last))

    key = code_sort_key

    low_ok = key(bare[: len(lo)]) >= key(lo) if len(bare) >= len(lo) else key(bare) > key(lo[: len(bare)])
    high_ok = key(bare[: len(hi)]) <= key(hi) if len(bare) >= len(hi) else key(bare) < key(hi[: len(bare)])
    return low_ok and high_ok


def procedure_system(code: str) -> CodeSystem:
    """HCPCS Level II codes start with a letter; CPT codes (including 0042T, 0001U) with a digit."""
    return HCPCS if code[0].isalpha() else CPT


def expand_procedure_range(first: str, last: str) -> list[str]:
    """Every code between two codes of the same shape, stepping the four or five digits."""
    if first[0].isalpha():
        prefix, suffix, lo, hi, width = first[0], "", int(first[1:]), int(last[1:]), 4
        if last[0] != prefix:
            raise ValueError(f"range {first}-{last} changes letter")
    elif first[-1].isalpha():
        prefix, suffix, lo, hi, width = "", first[-1], int(first[:4]), int(last[:4]), 4
        if last[-1] != suffix:
            raise ValueError(f"range {first}-{last} changes its last letter")
    else:
        prefix, suffix, lo, hi, width = "", "", int(first), int(last), 5
    if hi - lo + 1 > MAX_PROCEDURE_RANGE:
        raise ValueError(f"range {first}-{last} holds {hi - lo + 1} codes (at most {MAX_PROCEDURE_RANGE})")
    return [f"{prefix}{n:0{width}d}{suffix}" for n in range(lo, hi + 1)]


def _digit_categories_between(first: str, last: str) -> list[str]:
    """Categories ``A00``-style (letter + two digits) from ``first`` to ``last`` of the same letter."""
    if first[0] != last[0] or not (first[1:].isdigit() and last[1:].isdigit()):
        return []
    return [f"{first[0]}{n:02d}" for n in range(int(first[1:]), int(last[1:]) + 1)]


class LoadedIcd10cm:
    """The codes of every visible ICD-10-CM release, asked per range (ranges are few; releases large)."""

    CODES_BETWEEN = f"""
    MATCH (c:{L.Code})
    WHERE c.system = $system AND c.code >= $lo AND c.code < $hi
      AND EXISTS {{ MATCH (r:{L.Release} {{system: $system, status: 'visible'}}) WHERE {in_release('c', 'r')} }}
    RETURN DISTINCT c.code AS code
    """
    RELEASES = f"MATCH (r:{L.Release} {{system: $system, status: 'visible'}}) RETURN r.id AS id ORDER BY id"

    def __init__(self, ctx: LoadContext) -> None:
        self._driver, self._database = ctx.writer.driver, ctx.writer.database
        self.releases = [r["id"] for r in self._read(self.RELEASES)]

    def _read(self, cypher: str, **params: Any) -> list[Any]:
        records, _, _ = self._driver.execute_query(cypher, {"system": ICD10CM.id, **params},
                                                   database_=self._database, routing_=RoutingControl.READ)
        return records

    def tops_in_range(self, first: str, last: str) -> list[str]:
        """The top-most loaded codes inside the range (their descendants are inside too)."""
        rows = self._read(self.CODES_BETWEEN, lo=first[:3], hi=last[:3] + "~")  # "~" sorts after [0-9A-Z.]
        inside = {r["code"] for r in rows if DOTTED_CODE.fullmatch(r["code"]) and diagnosis_in_range(r["code"], first,
                                                                                                    last)}
        return sorted((c for c in inside if not any(add_dot(strip_dot(c)[:n]) in inside
                                                   for n in range(3, len(strip_dot(c))))), key=code_sort_key)


# ---- the shared writer ----------------------------------------------------------------------------------
def _code_edge_statement(cs: CodeSystem, pattern: str) -> str:
    """MERGE the code node by key (the code system may not be loaded yet), then the edge ``pattern``."""
    labels = "".join(f" SET c:`{lab}`" for lab in labels_for(cs.label) if lab != L.Code)
    return f"""
    UNWIND $rows AS row
    {seek_by_key('r', L.PolicyRule, 'row.rule')}
    MERGE (c:{L.Code} {{key: row.key}})
      ON CREATE SET c.code = row.code, c.system = $system, c.load_run = $run
    WITH r, c, row{labels}
    MERGE {pattern}
      ON CREATE SET e += row.props, e.load_run = $run
    """


PAYERS = f"""
UNWIND $rows AS row
MERGE (p:{L.Payer} {{id: row.id}})
  ON CREATE SET p.name = row.name, p.load_run = $run
"""
POLICIES = f"""
MATCH (rel:{L.Release} {{id: $release}})
UNWIND $rows AS row
{seek_by_key('payer', L.Payer, 'row.payer')}
MERGE (pol:{L.PayerPolicy} {{key: row.key}})
  ON CREATE SET pol += row.props, pol.key = row.key, pol.payer = row.payer, pol.load_run = $run
MERGE (pol)-[i:{R.ISSUED_BY} {{release: $release}}]->(payer)
  ON CREATE SET i.load_run = $run
MERGE (pol)-[m:{R.IN_RELEASE}]->(rel)
  ON CREATE SET m.release = $release, m.load_run = $run
"""
RULES = f"""
UNWIND $rows AS row
{seek_by_key('pol', L.PayerPolicy, 'row.policy')}
MERGE (r:{L.PolicyRule} {{key: row.key}})
  ON CREATE SET r += row.props, r.key = row.key, r.policy = row.policy, r.load_run = $run
MERGE (pol)-[h:{R.HAS_RULE} {{release: $release}}]->(r)
  ON CREATE SET h.load_run = $run
"""


@dataclass
class PolicyGraph:
    """Rows for the coverage graph of one release, collected from a parsed source before anything is written."""

    release: str
    payers: dict[str, str] = field(default_factory=dict)
    policies: list[dict[str, Any]] = field(default_factory=list)
    rules: list[dict[str, Any]] = field(default_factory=list)
    procedures: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    diagnoses: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))

    def policy_key(self, payer: str, document_id: str, version: int) -> str:
        return f"{self.release}|{payer}|{document_id}|{version}"

    def add_payer(self, payer_id: str, name: str) -> None:
        self.payers[payer_id] = name

    def add_policy(self, payer: str, document_id: str, version: int, **props: Any) -> str:
        key = self.policy_key(payer, document_id, version)
        self.policies.append({"key": key, "payer": payer,
                              "props": {"document_id": document_id, "version": version, "release": self.release,
                                        **_present(props)}})
        return key

    def add_rule(self, policy: str, rule_id: str, **props: Any) -> str:
        key = f"{policy}|{rule_id}"
        self.rules.append({"key": key, "policy": policy, "props": {"rule_id": rule_id, **_present(props)}})
        return key

    def add_procedure(self, rule: str, code: str, listed_as: str) -> None:
        cs = procedure_system(code)
        self.procedures[cs.id].append({"rule": rule, "key": cs.key(code), "code": code,
                                       "props": {"listed_as": listed_as}})

    def add_diagnosis(self, rel_type: str, rule: str, code: str, listed_as: str, scope: str, **props: Any) -> None:
        self.diagnoses[rel_type].append({"rule": rule, "key": ICD10CM.key(code), "code": code, "listed_as": listed_as,
                                         "props": {"listed_as": listed_as, "scope": scope, **_present(props)}})

    def write(self, ctx: LoadContext) -> dict[str, int]:
        w = ctx.writer
        counts = {
            "payers": w.write("payers", PAYERS, ({"id": k, "name": v} for k, v in sorted(self.payers.items()))),
            "policies": w.write("policies", POLICIES, self.policies,
                                describe_row=lambda r: f"policy {r['key']!r}"),
            "rules": w.write("policy rules", RULES, self.rules, describe_row=lambda r: f"rule {r['key']!r}"),
        }
        counts["procedure_edges"] = 0
        for system_id, rows in sorted(self.procedures.items()):
            cs = system(system_id)
            counts["procedure_edges"] += w.write(
                f"{cs.id} procedures", _code_edge_statement(cs, f"(c)-[e:{R.COVERED_BY} {{release: $release}}]->(r)"),
                rows, params={"system": cs.id}, describe_row=lambda r: f"procedure {r['code']!r} of {r['rule']!r}")
        for rel_type, rows in sorted(self.diagnoses.items()):
            pattern = f"(r)-[e:`{rel_type}` {{release: $release, listed_as: row.listed_as}}]->(c)"
            counts[f"edges_{rel_type}"] = w.write(
                f"{rel_type} diagnoses", _code_edge_statement(ICD10CM, pattern), rows, params={"system": ICD10CM.id},
                describe_row=lambda r: f"diagnosis {r['code']!r} of {r['rule']!r}")
        return counts


def _present(props: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in props.items() if v is not None}


# ---- payer rule files -------------------------------------------------------------------------------------
def payer_rule_files(sources: Iterable[Path]) -> list[Path]:
    """The YAML files given, a folder standing for every ``*.yaml``/``*.yml`` in it (name order)."""
    files: list[Path] = []
    for src in sources:
        if src.is_dir():
            files += sorted(p for p in src.iterdir() if p.suffix in {".yaml", ".yml"})
        else:
            files.append(src)
    if not files:
        raise LoadError(f"no payer rule files (*.yaml) in {[str(s) for s in sources]}")
    return files


def _frequency(limit: FrequencyLimit) -> str:
    """``1 per 12 months``, ``1 per year``, ``2 per lifetime``."""
    if limit.period is None or limit.period == 1:
        return f"{limit.count} per {limit.unit}"
    return f"{limit.count} per {limit.period} {limit.unit}s"


def _listed(spec: DiagnosisSpec) -> str:
    if spec.kind == "range":
        return f"{spec.code}-{spec.code_to}"
    return f"{spec.code} and below" if spec.kind == "hierarchy" else spec.code


class _DiagnosisTargets:
    """Turns a diagnosis spec into (code, scope, extra edge props) targets; counts how ranges were read."""

    def __init__(self, icd: LoadedIcd10cm | None, counts: dict[str, Any]) -> None:
        self.icd = icd
        self.counts = counts

    def __call__(self, spec: DiagnosisSpec) -> Iterator[tuple[str, str, dict[str, Any]]]:
        if spec.kind != "range":
            yield spec.code, ("descendants" if spec.kind == "hierarchy" else "code"), {}
            return
        assert spec.code_to is not None
        bounds = {"range_from": spec.code, "range_to": spec.code_to}
        tops = self.icd.tops_in_range(spec.code, spec.code_to) if self.icd and self.icd.releases else []
        if tops:
            self.counts["ranges_expanded_to_codes"] = self.counts.get("ranges_expanded_to_codes", 0) + 1
        else:
            self.counts["ranges_to_categories"] = self.counts.get("ranges_to_categories", 0) + 1
            first, last = spec.code[:3], spec.code_to[:3]
            tops = sorted({first, last, *_digit_categories_between(first, last)}, key=code_sort_key)
        for code in tops:
            yield code, "descendants", bounds


def payer_policy_graph(release: str, files: list[tuple[Path, PayerRules]], icd: LoadedIcd10cm | None,
                       counts: dict[str, Any]) -> PolicyGraph:
    graph = PolicyGraph(release)
    targets = _DiagnosisTargets(icd, counts)
    seen: dict[str, Path] = {}
    for path, rules in files:
        payer = rules.payer.id
        if payer in seen:
            raise ParseError(path, None, "payer.id", f"a payer id not used by another file ({seen[payer]})", payer)
        seen[payer] = path
        graph.add_payer(payer, rules.payer.name)
        for i, policy in enumerate(rules.policies):
            key = graph.add_policy(
                payer, policy.id, policy.version, title=policy.title, kind="commercial",
                effective_from=policy.effective.start, effective_to=policy.effective.end, needs_review=False,
                plans=list(policy.plans) if policy.plans is not None else None, notes=policy.notes or None,
                source_file=path.name,
            )
            rule = graph.add_rule(
                key, policy.id, restricts_diagnoses=bool(policy.covered_diagnoses),
                prior_authorization=policy.prior_authorization.required,
                prior_authorization_notes=policy.prior_authorization.notes or None,
                frequency_limits=[_frequency(f) for f in policy.frequency_limits], notes=policy.notes or None,
            )
            for j, proc in enumerate(policy.procedures):
                for code in _procedure_codes(path, i, j, proc):
                    graph.add_procedure(rule, code, proc.code if proc.kind == "code" else f"{proc.code}-{proc.code_to}")
            for rel_type, specs in ((R.COVERS_DIAGNOSIS, policy.covered_diagnoses),
                                    (R.DENIES_DIAGNOSIS, policy.noncovered_diagnoses)):
                for spec in specs:
                    for code, scope, extra in targets(spec):
                        graph.add_diagnosis(rel_type, rule, code, _listed(spec), scope, paired=True,
                                            note=spec.note or None, **extra)
    return graph


def _procedure_codes(path: Path, policy: int, index: int, spec: ProcedureSpec) -> list[str]:
    if spec.kind == "code":
        return [spec.code]
    assert spec.code_to is not None
    try:
        return expand_procedure_range(spec.code, spec.code_to)
    except ValueError as err:
        raise ParseError(path, None, f"policies[{policy}].procedures[{index}]",
                         f"a range of at most {MAX_PROCEDURE_RANGE} codes of one shape", str(err)) from err


class PayerRulesLoader:
    name = "payer_rules"
    system_name = "Commercial payer coverage rules"

    def write(self, ctx: LoadContext) -> None:
        files = [(path, load_payer_rules(path)) for path in payer_rule_files(ctx.sources)]  # all checked first
        icd = LoadedIcd10cm(ctx)
        counts = ctx.counts
        counts["payer_files"] = len(files)
        counts["icd10cm_releases_for_ranges"] = icd.releases
        graph = payer_policy_graph(ctx.release.id, files, icd, counts)
        counts.update(graph.write(ctx))
        ctx.writer.run("range expansion", f"MATCH (r:{L.Release} {{id: $release}}) SET r.icd10cm_ranges_against = $ids",
                       {"ids": icd.releases})


register("payer_rules")(PayerRulesLoader)
