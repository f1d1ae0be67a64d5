"""Load the coding rules (``coding_rules_*.yaml``) as graph nodes of one release (``coding_rules@FY2026``)::

    (:Guideline {key: release|section, section, title, fiscal_year, statement, document})-[:IN_RELEASE]->(:Release)
    (:RuleCheck {key: release|check, check, family, title, note_type})-[:IMPLEMENTS]->(:Guideline)
    (:ModifierRule {key: release|modifier, modifier, kind, bypasses_ptp, same_on_both_lines_bypasses, statement})

Each release's nodes are its own (the key starts with the release id), so a later year's wording never
rewrites what an earlier evaluation cited.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loaders.errors import LoadError
from loaders.machinery.pipeline import LoadContext
from loaders.machinery.release_nodes import release_nodes_statement
from loaders.registry import register
from loaders.rules.records import CodingRules, read_coding_rules
from ontology.vocabulary import L, R

SYSTEM = "coding_rules"

GUIDELINES = release_nodes_statement(L.Guideline)
CHECKS = release_nodes_statement(L.RuleCheck, then=f"""
WITH node, row
UNWIND row.guidelines AS gkey
MATCH (g:{L.Guideline} {{key: gkey}})
MERGE (node)-[i:{R.IMPLEMENTS} {{release: $release}}]->(g)
  ON CREATE SET i.load_run = $run
""")
MODIFIERS = release_nodes_statement(L.ModifierRule)


def rule_rows(release: str, rules: CodingRules, source_file: str) -> dict[str, list[dict[str, Any]]]:
    """The node rows of a rules file for one release."""
    guidelines = [{"key": f"{release}|{g.section}",
                   "props": {"section": g.section, "title": g.title, "statement": g.statement,
                             "fiscal_year": rules.fiscal_year, "document": rules.guideline_document,
                             "release": release, "source_file": source_file}} for g in rules.guidelines]
    checks = [{"key": f"{release}|{c.check}", "guidelines": [f"{release}|{s}" for s in c.guidelines],
               "props": {"check": c.check, "family": c.family, "title": c.title, "note_type": c.note_type,
                         "guideline_sections": list(c.guidelines), "release": release, "source_file": source_file}}
              for c in rules.checks]
    modifiers = [{"key": f"{release}|{m}",
                  "props": {"modifier": m, "kind": group.kind, "bypasses_ptp": group.bypasses_ptp,
                            "same_on_both_lines_bypasses": group.same_on_both_lines_bypasses,
                            "statement": group.statement, "release": release, "source_file": source_file}}
                 for group in rules.modifiers for m in group.modifiers]
    return {"guidelines": guidelines, "checks": checks, "modifiers": modifiers}


class CodingRulesLoader:
    name = SYSTEM
    system_name = "Coding rules: ICD-10-CM guideline sections, evaluation checks, modifier rules"

    def write(self, ctx: LoadContext) -> None:
        paths = [p for src in ctx.sources for p in (sorted(src.glob("*.yaml")) if src.is_dir() else [src])]
        if len(paths) != 1:
            raise LoadError(f"coding_rules takes one rules file; got {[str(p) for p in paths] or 'none'}")
        path: Path = paths[0]
        rules = read_coding_rules(path)  # checked whole before anything is written
        rows = rule_rows(ctx.release.id, rules, path.name)
        w = ctx.writer
        ctx.counts["guidelines"] = w.write("guidelines", GUIDELINES, rows["guidelines"],
                                           describe_row=lambda r: f"guideline {r['key']!r}")
        ctx.counts["checks"] = w.write("checks", CHECKS, rows["checks"], describe_row=lambda r: f"check {r['key']!r}")
        ctx.counts["modifier_rules"] = w.write("modifier rules", MODIFIERS, rows["modifiers"],
                                               describe_row=lambda r: f"modifier rule {r['key']!r}")


register(SYSTEM)(CodingRulesLoader)
