"""The coding rules held in memory: guideline sections, checks and modifier rules of the visible
``coding_rules`` release in force, built from the graph once per catalog fingerprint (a release never changes).
Findings cite these nodes; without a loaded rules release they still cite their check by name, with a note."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from neo4j import Driver

from graph_service.blocking import check_may_block
from graph_service.errors import NotFound
from graph_service.graph import Graph
from graph_service.models.evaluation import GuidelineRef, RuleRef
from ontology.vocabulary import L, R

SYSTEM = "coding_rules"

RULES = f"""
MATCH (rel:{L.Release} {{id: $release}})
CALL (rel) {{
  MATCH (g:{L.Guideline})-[:{R.IN_RELEASE}]->(rel)
  RETURN collect(g {{.key, .section, .title, .fiscal_year, .statement, .source_file}}) AS guidelines
}}
CALL (rel) {{
  MATCH (c:{L.RuleCheck})-[:{R.IN_RELEASE}]->(rel)
  RETURN collect(c {{.key, .check, .family, .title, .note_type, .source_file,
                    sections: [(c)-[:{R.IMPLEMENTS}]->(g:{L.Guideline}) | g.section]}}) AS checks
}}
CALL (rel) {{
  MATCH (m:{L.ModifierRule})-[:{R.IN_RELEASE}]->(rel)
  RETURN collect(m {{.key, .modifier, .kind, .bypasses_ptp, .same_on_both_lines_bypasses, .statement,
                    .source_file}}) AS modifiers
}}
RETURN guidelines, checks, modifiers
"""


@dataclass(frozen=True)
class RulesTable:
    release: str
    guidelines: dict[str, dict[str, Any]]  # by section
    checks: dict[str, dict[str, Any]]  # by check name
    modifiers: dict[str, dict[str, Any]]  # by modifier
    # The check's rule reference and guideline references, built once per release (every finding cites them;
    # they are read-only once built, so findings share them).
    refs: dict[tuple[str, str], RuleRef] = field(default_factory=dict, compare=False, repr=False)
    guideline_refs: dict[str, list[GuidelineRef]] = field(default_factory=dict, compare=False, repr=False)
    # What a finding of (check, family) cites: its check reference, check node and guidelines.
    cites: dict[tuple[str, str], tuple[RuleRef, str | None, list[GuidelineRef]]] = field(
        default_factory=dict, compare=False, repr=False)


def build_rules_table(driver: Driver, database: str, release: str) -> RulesTable:
    records, _, _ = driver.execute_query(RULES, release=release, database_=database, routing_="r")
    row = records[0] if records else {"guidelines": [], "checks": [], "modifiers": []}
    return RulesTable(release=release, guidelines={g["section"]: g for g in row["guidelines"]},
                      checks={c["check"]: c for c in row["checks"]},
                      modifiers={m["modifier"]: m for m in row["modifiers"]})


@dataclass
class Rules:
    """What one evaluation uses of the rules table (None when no rules release is loaded)."""

    table: RulesTable | None
    notes: list[str] = field(default_factory=list)

    def check_ref(self, check: str, family: str) -> RuleRef:
        if self.table is None:
            return self._check_ref(check, family)
        ref = self.table.refs.get((check, family))
        if ref is None:
            ref = self.table.refs[(check, family)] = self._check_ref(check, family)
        return ref

    def _check_ref(self, check: str, family: str) -> RuleRef:
        found = self.table.checks.get(check) if self.table else None
        if found is None:
            return RuleRef(id=f"{SYSTEM}:{check}", kind="RuleCheck", label=None, detail={"family": family})
        return RuleRef(id=found["key"], kind="RuleCheck", label=L.RuleCheck, release=self.table.release,  # type: ignore[union-attr]
                       source_file=found.get("source_file"), detail={"family": family, "title": found["title"]})

    def cited(self, check: str, family: str) -> tuple[RuleRef, str | None, list[GuidelineRef]]:
        """What every finding of ``check`` in ``family`` cites (once per rules release): the check's reference, its
        RuleCheck node key and its guideline references (a list of its own each time)."""
        if self.table is None:
            return self.check_ref(check, family), None, []
        found = self.table.cites.get((check, family))
        if found is None:
            found = self.table.cites[(check, family)] = (
                self.check_ref(check, family), self.check_node(check), self.guidelines(check))
        return found[0], found[1], list(found[2])

    def check_node(self, check: str) -> str | None:
        found = self.table.checks.get(check) if self.table else None
        return found["key"] if found else None

    def guidelines(self, check: str) -> list[GuidelineRef]:
        if self.table is None or check not in self.table.checks:
            return []
        refs = self.table.guideline_refs.get(check)
        if refs is None:
            refs = self.table.guideline_refs[check] = self._guidelines(check)
        return list(refs)

    def _guidelines(self, check: str) -> list[GuidelineRef]:
        assert self.table is not None
        out = []
        for section in self.table.checks[check]["sections"]:
            g = self.table.guidelines.get(section)
            if g is not None:
                out.append(GuidelineRef(section=g["section"], title=g["title"], fiscal_year=g["fiscal_year"],
                                        statement=g["statement"], node=g["key"]))
        return sorted(out, key=lambda g: g.section)

    def modifier(self, modifier: str) -> dict[str, Any] | None:
        return self.table.modifiers.get(modifier) if self.table else None

    def modifier_ref(self, modifier: str) -> RuleRef | None:
        m = self.modifier(modifier)
        if m is None or self.table is None:
            return None
        return RuleRef(id=m["key"], kind="ModifierRule", label=L.ModifierRule, release=self.table.release,
                       source_file=m.get("source_file"),
                       detail={"modifier": modifier, "kind": m["kind"], "bypasses_ptp": m["bypasses_ptp"]})

    def bypassing_modifiers(self) -> list[str]:
        """The modifiers whose rule says they may bypass an indicator-1 edit, distinct-service ones first."""
        if self.table is None:
            return []
        order = {"distinct_service": 0, "laterality": 1, "anatomic": 2, "global_surgery": 3, "other_ncci": 4}
        found = [m for m in self.table.modifiers.values() if m["bypasses_ptp"]]
        return [m["modifier"] for m in sorted(found, key=lambda m: (order.get(m["kind"], 9), m["modifier"]))]


def rules_for(graph: Graph, on: date) -> Rules:
    store = graph.reference
    catalog = store.catalog()
    try:
        release = catalog.resolve(SYSTEM, None, on)
    except NotFound:
        if not catalog.of(SYSTEM):
            return Rules(None, ["no coding_rules release is loaded: findings name their check without its "
                                "guideline nodes (load loaders/rules/coding_rules_fy2026.yaml)"])
        release = max(catalog.of(SYSTEM), key=lambda r: r.effective_from or date.min)
    table = store.table((SYSTEM, release.id), catalog.fingerprint(SYSTEM),
                        lambda: build_rules_table(graph.driver, graph.database, release.id))
    if table is None:  # being built in the background: read it from the graph now (off the event loop)
        check_may_block()
        table = build_rules_table(graph.driver, graph.database, release.id)
    return Rules(table)
