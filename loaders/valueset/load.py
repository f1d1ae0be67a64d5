"""Load FHIR ValueSets (release ``valueset@<version>``), members resolved against the visible code releases::

    (:ValueSet {key, url, version, name, title, status, release, resource (JSON)})
        -[:CONTAINS {release, code_release}]->(:Code)

An include without ``version`` reads the newest visible release of its system, one with a version that
release (which must be visible); listed codes must be in it, and ``is-a`` / ``descendent-of`` take the
code's IS_A subtree in it. Excludes remove codes whatever their release. What the members were resolved
against is kept on each edge, so an expansion never changes when later releases are loaded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from loaders.errors import ParseError
from loaders.machinery.pipeline import LoadContext
from loaders.registry import register
from loaders.valueset.records import Selection, ValueSetRecord, read_value_sets
from ontology.code_systems import system
from ontology.release_ranges import is_a_path, membership, with_scope
from ontology.vocabulary import L, R, seek_by_key

MAX_DEPTH = 12
RELEASES = f"""
MATCH (r:{L.Release} {{system: $system, status: 'visible'}})
RETURN r.id AS id, r.version AS version ORDER BY r.effective_from, r.version
"""
PRESENT = f"""
{with_scope()}
UNWIND $keys AS key
OPTIONAL MATCH {membership(f'c:{L.Code} {{key: key}}', 'm', 'scope')}
RETURN key, c IS NOT NULL AS found
"""
SUBTREE = f"""
{with_scope()}
MATCH {membership(f'root:{L.Code} {{key: $key}}', 'm', 'scope')}
OPTIONAL MATCH {is_a_path('root', 'd', 'scope', f'1,{MAX_DEPTH}', down=True)}
RETURN collect(DISTINCT d.key) AS below
"""
VALUE_SETS = f"""
UNWIND $rows AS row
CREATE (vs:{L.ValueSet} {{key: row.key}})
SET vs.url = row.url, vs.version = row.version, vs.name = row.name, vs.title = row.title, vs.status = row.status,
    vs.resource = row.resource, vs.release = $release, vs.load_run = $run
"""
MEMBERS = f"""
UNWIND $rows AS row
{seek_by_key('vs', L.ValueSet, 'row.value_set')}
{seek_by_key('c', L.Code, 'row.code')}
CREATE (vs)-[:{R.CONTAINS} {{release: $release, code_release: row.code_release, load_run: $run}}]->(c)
"""


class ValueSetLoader:
    name = "valueset"
    system_name = "FHIR ValueSets"

    def _read(self, ctx: LoadContext, cypher: str, **params: Any) -> list[dict[str, Any]]:
        records, _, _ = ctx.writer.driver.execute_query(cypher, params, database_=ctx.writer.database,
                                                        routing_="r")
        return [r.data() for r in records]

    def _release(self, ctx: LoadContext, vs: ValueSetRecord, sel: Selection) -> str:
        releases = self._read(ctx, RELEASES, system=system(sel.system).releases_of)
        if sel.version is None:
            if not releases:
                raise ParseError(vs.file, None, f"{sel.where}.system", f"a code system with a visible release "
                                 f"(no {sel.system} release is loaded)", sel.system)
            return str(releases[-1]["id"])
        for r in releases:
            if sel.version in (r["version"], r["id"]):
                return str(r["id"])
        raise ParseError(vs.file, None, f"{sel.where}.version", f"a visible {sel.system} release "
                         f"({[r['version'] for r in releases]})", sel.version)

    def _codes(self, ctx: LoadContext, vs: ValueSetRecord, sel: Selection) -> Iterator[tuple[str, str]]:
        """(code key, release id) of one include or exclude."""
        cs, release = system(sel.system), self._release(ctx, vs, sel)
        keys = [cs.key(c) for c in sel.concepts]
        missing = {row["key"] for row in self._read(ctx, PRESENT, keys=keys, release=release) if not row["found"]}
        for i, key in enumerate(keys):
            if key in missing:
                raise ParseError(vs.file, None, f"{sel.where}.concept[{i}]", f"a code of {release}",
                                 sel.concepts[i])
            yield key, release
        for i, (op, code) in enumerate(sel.filters):
            row = self._read(ctx, SUBTREE, key=cs.key(code), release=release)
            if not row:
                raise ParseError(vs.file, None, f"{sel.where}.filter[{i}].value", f"a code of {release}", code)
            if op == "is-a":
                yield cs.key(code), release
            yield from ((k, release) for k in row[0]["below"])

    def write(self, ctx: LoadContext) -> None:
        value_sets: list[dict[str, Any]] = []
        members: list[dict[str, Any]] = []
        seen: set[tuple[str, str]] = set()
        for path in ctx.sources:
            for vs in read_value_sets(path, ctx.release.version):
                if (vs.url, vs.version) in seen:
                    raise ParseError(path, None, "url", "each ValueSet url and version once per load",
                                     f"{vs.url}|{vs.version}")
                seen.add((vs.url, vs.version))
                key = f"{ctx.release.id}|{vs.url}|{vs.version}"
                included: dict[str, str] = {}
                for sel in vs.includes:
                    included.update(dict(self._codes(ctx, vs, sel)))
                for sel in vs.excludes:
                    for code_key, _release in self._codes(ctx, vs, sel):
                        included.pop(code_key, None)
                value_sets.append({"key": key, "url": vs.url, "version": vs.version, "name": vs.name,
                                   "title": vs.title, "status": vs.status, "resource": json.dumps(vs.resource)})
                members += [{"value_set": key, "code": k, "code_release": r} for k, r in included.items()]
        ctx.counts["value_sets"] = ctx.writer.write("value_sets", VALUE_SETS, value_sets)
        ctx.counts["members"] = ctx.writer.write("value_set_members", MEMBERS, members)


register("valueset")(ValueSetLoader)
