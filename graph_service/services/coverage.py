"""Payer coverage: is each procedure covered for the claim's diagnoses on the date of service, and why.

The steps, each named in the answer:

1. The payer's documents: the newest visible release (snapshot) that holds policies of the payer
   (``mcd@2026-04`` for ``medicare``, ``payer_rules@2026`` for a commercial payer); unknown payer → 404.
2. The rules governing each procedure (``(:Code)-[:COVERED_BY]->(:PolicyRule)``) whose policy is in force on
   the date (``effective_from`` ≤ date ≤ ``effective_to``, both inclusive) and, for Medicare, published by
   the contractor given (a state of its jurisdiction or its contractor number); for a commercial payer, not
   limited to another plan. None → ``no_policy``, with what was left out and why.
3. Each diagnosis with its ancestors: the ``IS_A`` edges of the ICD-10-CM release in force on the date when
   that release has the code and a hierarchy; otherwise the code's own prefixes (``I50.22`` → ``I50.2``,
   ``I50``). A rule edge matches a diagnosis when it points at the diagnosis itself, or at an ancestor with
   ``scope: 'descendants'``; an edge read from a range also needs the diagnosis inside that range.
4. Precedence across every rule in force for the procedure:
   a paired covered diagnosis on any rule → ``covered``;
   else a rule that lists no covered diagnoses and denies none of the claim's → ``covered`` (no restriction);
   else a covered diagnosis found only on an unpaired rule of an article under review → ``needs_review``;
   else an explicit denial (non-covered list) → ``not_covered`` naming the denial;
   else ``not_covered`` (no listed diagnosis supports the procedure).
   An explicit denial thus wins over nothing but never over a covered diagnosis, on the same or another rule.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from graph_service.errors import NotFound
from graph_service.graph import Graph
from graph_service.models.coverage import (
    CoverageIn,
    CoverageOut,
    DiagnosisMatch,
    PolicyPath,
    ProcedureCoverage,
)
from graph_service.services.codes import MAX_DEPTH
from graph_service.services.releases import resolve_release
from loaders.coverage.load_mcd import MEDICARE_ID
from loaders.coverage.load_payer_rules import diagnosis_in_range, procedure_system
from loaders.icd10cm.codes import add_dot, strip_dot
from ontology.code_systems import system
from ontology.release_ranges import is_a_path, membership, with_scope
from ontology.vocabulary import L, R

ICD10CM = system("icd10cm")

PAYER_RELEASE = f"""
MATCH (payer:{L.Payer} {{id: $payer}})<-[i:{R.ISSUED_BY}]-(:{L.PayerPolicy})
      -[:{R.IN_RELEASE}]->(rel:{L.Release} {{status: 'visible'}})
WHERE i.release = rel.id
WITH DISTINCT payer, rel
ORDER BY rel.version DESC, rel.visible_since DESC
RETURN payer.name AS name, rel.id AS release
LIMIT 1
"""

KNOWN_PAYERS = f"""
MATCH (p:{L.Payer})<-[i:{R.ISSUED_BY}]-(:{L.PayerPolicy})-[:{R.IN_RELEASE}]->(rel:{L.Release} {{status: 'visible'}})
WHERE i.release = rel.id
RETURN DISTINCT p.id AS id ORDER BY id
"""

RULES = f"""
UNWIND $keys AS key
MATCH (:{L.Code} {{key: key}})-[cb:{R.COVERED_BY} {{release: $release}}]->(rule:{L.PolicyRule})
      <-[:{R.HAS_RULE} {{release: $release}}]-(pol:{L.PayerPolicy})
      -[:{R.ISSUED_BY} {{release: $release}}]->(:{L.Payer} {{id: $payer}})
RETURN key, properties(cb) AS edge, properties(rule) AS rule, properties(pol) AS policy
ORDER BY pol.document_id, pol.version, rule.rule_id
"""

ANCESTRY = f"""
{with_scope('$icd')}
UNWIND $keys AS key
OPTIONAL MATCH {membership(f'c:{L.Code} {{key: key}}', 'm', 'scope')}
OPTIONAL MATCH p = {is_a_path('c', 'a', 'scope', f'1,{MAX_DEPTH}')}
WITH key, m, a, min(length(p)) AS depth
RETURN key, m IS NOT NULL AS in_release, m.billable AS billable,
       collect(CASE WHEN a IS NULL THEN null ELSE {{code: a.code, depth: depth}} END) AS ancestors
"""

DIAGNOSIS_EDGES = f"""
UNWIND $rules AS rule_key
MATCH (:{L.PolicyRule} {{key: rule_key}})
      -[e:{R.COVERS_DIAGNOSIS}|{R.DENIES_DIAGNOSIS} {{release: $release}}]->(t:{L.Code})
WHERE t.key IN $targets
RETURN rule_key, type(e) AS kind, properties(e) AS edge, t.code AS code
"""


def _native(value: Any) -> Any:
    return value.to_native() if hasattr(value, "to_native") else value


@dataclass(frozen=True)
class _Line:
    """One place a diagnosis can be found by a rule edge: itself (depth 0) or an ancestor."""

    code: str
    depth: int
    hierarchy: str | None


@dataclass(frozen=True)
class _Found:
    """A rule edge that matched a diagnosis, at the depth of the line it matched."""

    match: DiagnosisMatch
    depth: int
    rule: _Rule

    def rank(self) -> tuple[Any, ...]:
        """Exact before ancestor, nearer ancestor first, unconditional before asterisk, then document order."""
        p = self.match.policy
        return self.depth, self.match.asterisk, p.document_id, -p.version, p.rule_id


@dataclass(eq=False)
class _Rule:
    key: str
    path: PolicyPath
    props: dict[str, Any]
    policy: dict[str, Any]
    covers: list[_Found] = field(default_factory=list)
    denies: list[_Found] = field(default_factory=list)


def _path(release: str, rule: dict[str, Any], pol: dict[str, Any]) -> PolicyPath:
    return PolicyPath(
        payer=pol["payer"], release=release, document_id=pol["document_id"], version=pol["version"],
        title=pol.get("title"), kind=pol["kind"], rule_id=rule["rule_id"], hcpc_group=rule.get("hcpc_group"),
        covered_group=rule.get("covered_group"), effective_from=_native(pol["effective_from"]),
        effective_to=_native(pol.get("effective_to")), status=pol.get("status"),
        needs_review=bool(pol.get("needs_review")), review_reason=pol.get("review_reason"),
        contractors=list(pol.get("contractor_numbers") or []), jurisdictions=list(pol.get("jurisdictions") or []),
        plans=list(pol["plans"]) if pol.get("plans") is not None else None,
    )


def _payer(graph: Graph, payer: str) -> tuple[str, str]:
    row = graph.read_one(PAYER_RELEASE, payer=payer)
    if row is None:
        known = [r["id"] for r in graph.read(KNOWN_PAYERS)]
        raise NotFound(f"no visible coverage policies of payer {payer!r}; payers loaded: {known}")
    return row["name"], row["release"]


def _prefix_lines(code: str) -> list[_Line]:
    bare = strip_dot(code)
    return [_Line(add_dot(bare[:n]), len(bare) - n, "code prefix") for n in range(len(bare) - 1, 2, -1)]


def _ancestry(graph: Graph, diagnoses: list[str], on: date | None) -> tuple[str | None, dict[str, list[_Line]],
                                                                          list[str]]:
    """Each diagnosis and its ancestors, from the ICD-10-CM release in force on ``on`` (no date: the latest)."""
    warnings: list[str] = []
    try:
        icd = resolve_release(graph, ICD10CM.id, None, on).id
    except NotFound:
        icd = None
        if diagnoses:
            when = f"in force on {on.isoformat()}" if on else "loaded"
            warnings.append(f"no ICD-10-CM release {when}: categories are found by code prefix")
    rows = {r["key"]: r for r in graph.read(ANCESTRY, keys=[ICD10CM.key(d) for d in diagnoses], icd=icd)} if icd \
        else {}
    lines: dict[str, list[_Line]] = {}
    for code in diagnoses:
        row = rows.get(ICD10CM.key(code))
        own = [_Line(code, 0, None)]
        if row and row["in_release"] and row["ancestors"]:
            lines[code] = own + [_Line(a["code"], a["depth"], f"IS_A in {icd}") for a in row["ancestors"]]
            if row["billable"] is False:
                warnings.append(f"{code} is not billable in {icd} (a more specific code is required)")
            continue
        lines[code] = own + _prefix_lines(code)
        if icd and not (row and row["in_release"]):
            warnings.append(f"{code} is not a code of {icd}: categories are found by code prefix")
    return icd, lines, warnings


def _applies(rule: _Rule, on: date, body: CoverageIn) -> str | None:
    """Why the rule does not apply to this claim, or None when it does."""
    p = rule.path
    if on < p.effective_from or (p.effective_to is not None and on > p.effective_to):
        end = p.effective_to.isoformat() if p.effective_to else "open"
        return f"{p.document_id} v{p.version} is in force {p.effective_from.isoformat()} to {end}"
    if p.kind == "mcd_article" and body.contractor and body.contractor not in (*p.contractors, *p.jurisdictions):
        states = ", ".join(p.jurisdictions)
        return f"{p.document_id} v{p.version} is published for contractors {p.contractors} ({states})"
    if p.kind == "commercial" and body.plan and p.plans is not None and body.plan not in p.plans:
        return f"{p.document_id} v{p.version} applies to plans {p.plans}"
    return None


def _match_edges(rules: dict[str, _Rule], edges: list[dict[str, Any]], lines: dict[str, list[_Line]]) -> None:
    for row in edges:
        rule, edge = rules[row["rule_key"]], row["edge"]
        for diagnosis, found in lines.items():
            for line in found:
                if line.code != row["code"] or (line.depth and edge.get("scope") != "descendants"):
                    continue
                if edge.get("range_from") and not diagnosis_in_range(diagnosis, edge["range_from"], edge["range_to"]):
                    continue
                match = DiagnosisMatch(
                    diagnosis=diagnosis, listed_code=row["code"], listed_as=edge.get("listed_as", row["code"]),
                    scope=edge.get("scope", "code"), via="ancestor" if line.depth else "exact",
                    hierarchy=line.hierarchy, group=edge.get("group"), paired=edge.get("paired", True) is not False,
                    asterisk=bool(edge.get("asterisk")), note=edge.get("note"), policy=rule.path,
                )
                found_on = rule.covers if row["kind"] == R.COVERS_DIAGNOSIS else rule.denies
                found_on.append(_Found(match, line.depth, rule))
                break


def _decide(procedure: str, system_id: str, rules: list[_Rule], left_out: list[str],
            payer: str, release: str) -> ProcedureCoverage:
    base: dict[str, Any] = {"procedure": procedure, "system": system_id,
                            "policies_considered": [r.path for r in rules]}
    if not rules:
        why = "; ".join(dict.fromkeys(left_out)) if left_out else f"no {payer} policy in {release} lists {procedure}"
        return ProcedureCoverage(status="no_policy", reason=why if not left_out else f"no policy applies: {why}",
                                 **base)
    supports = sorted((f for r in rules for f in r.covers), key=_Found.rank)
    denials = sorted((f for r in rules for f in r.denies), key=_Found.rank)
    base |= {"supports": [f.match for f in supports], "denials": [f.match for f in denials]}
    paired = [f for f in supports if f.match.paired]
    open_rules = [r for r in rules if not r.props.get("restricts_diagnoses", True) and not r.denies]
    match: DiagnosisMatch | None = None
    decider = rules[0]
    if paired:
        match, decider = paired[0].match, paired[0].rule
        how = "" if match.via == "exact" else f" (under {match.listed_code}, {match.hierarchy})"
        status, reason = "covered", (f"{match.diagnosis}{how} is listed as {match.listed_as!r} by "
                                     f"{_where(match.policy)}")
    elif open_rules:
        decider = open_rules[0]
        status, reason = "covered", (f"{_where(decider.path)} lists no covered diagnoses and denies none of the "
                                     "claim's diagnoses")
    elif supports:
        match, decider = supports[0].match, supports[0].rule
        status, reason = "needs_review", (
            f"{match.diagnosis} is in {match.listed_as} of {match.policy.document_id} v{match.policy.version}, but "
            f"the article does not say which procedures that group supports: {match.policy.review_reason}")
    elif denials:
        match, decider = denials[0].match, denials[0].rule
        status, reason = "not_covered", (f"{match.diagnosis} is on the non-covered list ({match.listed_as}) of "
                                         f"{_where(match.policy)}")
    else:
        docs = ", ".join(dict.fromkeys(f"{r.path.document_id} v{r.path.version}" for r in rules))
        status, reason = "not_covered", f"no diagnosis of the claim is listed as supporting {procedure} in {docs}"
    notes = [n for n in (match.note if match else None, decider.props.get("notes")) if n]
    return ProcedureCoverage(
        status=status, reason=reason, match=match, policy=decider.path,
        supporting_diagnosis=match.diagnosis if match and status == "covered" else None,
        prior_authorization=decider.props.get("prior_authorization"),
        prior_authorization_notes=decider.props.get("prior_authorization_notes"),
        frequency_limits=list(decider.props.get("frequency_limits") or []), notes=notes, **base,
    )


def _where(path: PolicyPath) -> str:
    return f"{path.document_id} v{path.version} rule {path.rule_id} ({path.release})"


def check_coverage(graph: Graph, body: CoverageIn) -> CoverageOut:
    on = body.date_of_service or date.today()  # policy windows: a policy in force today
    payer_name, release = _payer(graph, body.payer)
    icd, lines, warnings = _ancestry(graph, body.diagnoses, body.date_of_service)
    if body.date_of_service is None:
        warnings.append(f"no date of service given: {icd or 'no ICD-10-CM release'} (the latest visible) and the "
                        f"policies in force on {on.isoformat()} were used")
    is_medicare = body.payer == MEDICARE_ID
    if body.contractor and not is_medicare:
        warnings.append("contractor/jurisdiction applies to Medicare articles only; ignored")
    if is_medicare and not body.contractor:
        warnings.append("no contractor or jurisdiction given: articles of every Medicare contractor were considered")

    systems = {code: procedure_system(code) for code in body.procedures}
    rows = graph.read(RULES, keys=[cs.key(code) for code, cs in systems.items()], release=release, payer=body.payer)
    by_procedure: defaultdict[str, list[_Rule]] = defaultdict(list)
    left_out: defaultdict[str, list[str]] = defaultdict(list)
    rules: dict[str, _Rule] = {}
    for row in rows:
        rule = rules.get(row["rule"]["key"]) or _Rule(row["rule"]["key"], _path(release, row["rule"], row["policy"]),
                                                      row["rule"], row["policy"])
        why = _applies(rule, on, body)
        if why:
            left_out[row["key"]].append(why)
            continue
        rules[rule.key] = rule
        by_procedure[row["key"]].append(rule)
    if rules and lines:
        targets = sorted({ICD10CM.key(line.code) for found in lines.values() for line in found})
        edges = graph.read(DIAGNOSIS_EDGES, rules=sorted(rules), release=release, targets=targets)
        _match_edges(rules, edges, lines)
    results = [
        _decide(code, cs.id, by_procedure[cs.key(code)], left_out[cs.key(code)], body.payer, release)
        for code, cs in systems.items()
    ]
    return CoverageOut(
        payer=body.payer, payer_name=payer_name, release=release, date_of_service=on, contractor=body.contractor,
        plan=body.plan, diagnoses=body.diagnoses, icd10cm_release=icd, warnings=warnings, results=results,
        release_used={k: v for k, v in (("icd10cm", icd), ("payer_rules", release)) if v},
    )
