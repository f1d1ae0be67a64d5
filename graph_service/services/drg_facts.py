"""What the graph says about a grouping: DRG weights and titles (IPPS Table 5), each secondary diagnosis's
CC/MCC designation and the Table 6K exclusions that cancel it, read through the visible MS-DRG release of
the grouper's fiscal year.

A service answers from the release's tables held in memory (``graph_service.reference.drg_tables``); while
they are being built, and outside a service, the same facts come from one graph query (``FACTS``). Tests
compare both.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from graph_service.errors import Unprocessable
from graph_service.graph import Graph
from graph_service.reference.drg_tables import DrgTables, build_drg_tables
from graph_service.services.drg_grouper import ICD10CM, SYSTEM, GrouperChoice, dotted
from graph_service.services.releases import list_releases
from loaders.msdrg_tables.load import mdc_key
from ontology.vocabulary import L, R

FACTS = f"""
MATCH (rel:{L.Release} {{id: $release, status: 'visible'}})
CALL (rel) {{
  UNWIND $drgs AS drg
  MATCH (d:{L.MSDRG} {{key: $prefix + drg}})-[:{R.IN_RELEASE}]->(rel)
  OPTIONAL MATCH (d)-[:{R.IN_MDC} {{release: rel.id}}]->(m:{L.MDC})
  RETURN collect(d {{.drg, .title, .mdc, .type, .weight, .gmlos, .amlos, .post_acute, .special_pay,
                     mdc_title: m.title}}) AS drgs
}}
CALL () {{
  UNWIND $mdcs AS mdc
  MATCH (m:{L.MDC} {{key: $mdc_prefix + mdc}})
  RETURN collect(m {{.mdc, .title}}) AS mdcs
}}
CALL (rel) {{
  UNWIND $codes AS code
  MATCH (:{L.Code} {{key: $cm + code}})-[:{R.HAS_SEVERITY} {{release: rel.id}}]->(s:{L.SeverityDesignation})
  OPTIONAL MATCH (s)-[:{R.EXCLUDED_WITH} {{release: rel.id}}]->(col:{L.PDXExclusionCollection})
  RETURN collect(s {{.code, .level, .description, .alive_only, .excluded_in_drgs, .excluded_in_drg_groups,
                     collection: col.collection,
                     pdx_in_collection: col IS NOT NULL AND EXISTS {{
                       MATCH (:{L.Code} {{key: $pdx_key}})-[:{R.IN_COLLECTION} {{release: rel.id}}]->(col) }}
                   }}) AS designations
}}
RETURN rel.id AS release, drgs, mdcs, designations
"""


@dataclass
class Facts:
    release: str
    drgs: dict[str, dict[str, Any]]
    mdcs: dict[str, str]
    designations: dict[str, dict[str, Any]]  # by dotted code


def drg_tables(graph: Graph, release_id: str) -> DrgTables | None:
    """The release's tables held in memory, built for the catalog as it is now (None: read the graph)."""
    store = graph.reference
    return store.table(("msdrg", release_id), store.catalog().fingerprint(SYSTEM),
                       lambda: build_drg_tables(graph.driver, graph.database, release_id))


def read_facts(graph: Graph, choice: GrouperChoice, pdx: str, codes: Iterable[str], drgs: Iterable[str],
               mdcs: Iterable[str]) -> Facts:
    """Weights, titles and CC/MCC designations with exclusions, through the visible release."""
    visible = {r.id: r for r in list_releases(graph, SYSTEM)}
    if choice.release_id not in visible:
        loaded = [f"{r.id} ({r.effective_from}..{r.effective_to})" for r in visible.values()]
        raise Unprocessable(
            f"no MS-DRG tables for FY{choice.fiscal_year} (grouper v{choice.version}) are loaded; "
            f"loaded: {loaded or 'none'} — load them with `codegraph load msdrg <Table 5> <Table 6K> "
            f"--release FY{choice.fiscal_year}`"
        )
    tables = drg_tables(graph, choice.release_id)
    if tables is not None:
        return _from_tables(tables, choice, pdx, codes, drgs, mdcs)
    row = graph.read_one(
        FACTS, release=choice.release_id, prefix=choice.prefix, mdc_prefix=mdc_key(""),
        drgs=sorted(set(drgs)), mdcs=sorted(set(mdcs)),
        codes=sorted({dotted(c) for c in codes}), cm=ICD10CM.key(""), pdx_key=ICD10CM.key(pdx),
    )
    if row is None:  # the release was retracted between the catalog read and the query
        raise Unprocessable(f"MS-DRG release {choice.release_id} is no longer visible; retry")
    return Facts(
        release=row["release"], drgs={d["drg"]: d for d in row["drgs"]},
        mdcs={m["mdc"]: m["title"] for m in row["mdcs"]}, designations={d["code"]: d for d in row["designations"]},
    )


def _from_tables(tables: DrgTables, choice: GrouperChoice, pdx: str, codes: Iterable[str], drgs: Iterable[str],
                 mdcs: Iterable[str]) -> Facts:
    pdx_key = ICD10CM.key(pdx)
    found_drgs = {d: tables.drgs[choice.prefix + d] for d in set(drgs) if choice.prefix + d in tables.drgs}
    designations = {}
    for code in {dotted(c) for c in codes}:
        des = tables.designation_for(ICD10CM.key(code), pdx_key)
        if des is not None:
            designations[des["code"]] = des
    return Facts(
        release=tables.release, drgs={d["drg"]: d for d in found_drgs.values()},
        mdcs={m: tables.mdcs[m] for m in set(mdcs) if m in tables.mdcs}, designations=designations,
    )
