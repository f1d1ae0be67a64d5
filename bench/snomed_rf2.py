"""A synthetic SNOMED CT release of any size in the US edition RF2 layout, and the SNOMED-CT-size load bench.

The package has the project fixture's shape (``SnomedCT_USEditionRF2_PRODUCTION_<date>T120000Z/Snapshot/
Terminology|Refset/Language|Refset/Map``, the same file names, headers, CRLF rows) and the real release's
proportions: per concept ≈ 3.3 descriptions (FSN, US preferred synonym, acceptable synonyms; some retired),
≈ 4.2 inferred relationships (≈ 1.6 IS-A into earlier concepts, so the hierarchy is a DAG under the root, the
rest attributes such as finding site), one US English language member per description, and ICD-10-CM
extended-map rows for ≈ 45 % of concepts (TRUE, sex and age rules with an OTHERWISE TRUE fallback, a few
"cannot be classified" rows with no target). At 360k concepts that is 1.2M descriptions and 1.5M
relationships, like the 2025 US edition. SCTIDs carry the right partition digits; the check digit is not a
Verhoeff digit (the loader does not verify it). Nothing here is SNOMED content: every term is made up.

Usage:
  python -m bench.snomed_rf2 generate --concepts 360000 --out /work/scratch/snomed
  python -m bench.snomed_rf2 bench [--concepts 100000,360000] [--quick]   # load with peak RSS and ceiling ratio
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from bench.common import BenchContext, Row, load_average

RELEASE_DATE = "20250301"
PACKAGE_NAME = f"SnomedCT_USEditionRF2_PRODUCTION_{RELEASE_DATE}T120000Z"
NAMESPACE = "US1000124"
ROOT = "138875005"
CORE_MODULE = "900000000000207008"
US_MODULE = "731000124108"
MAP_MODULE = "5991000124107"
FSN, SYNONYM = "900000000000003001", "900000000000013009"
US_ENGLISH, PREFERRED, ACCEPTABLE = "900000000000509007", "900000000000548007", "900000000000549004"
IS_A, INFERRED, EXISTENTIAL = "116680003", "900000000000011006", "900000000000451002"
PRIMITIVE, INITIAL_CAPITAL = "900000000000074008", "900000000000448009"
ICD10CM_MAP, CORRELATION = "6011000124106", "447561005"
PROPERLY, CONTEXT, CANNOT = "447637006", "447639009", "447638001"
ATTRIBUTES = ("363698007", "116676008", "246075003", "370135005", "263502005", "246454002")
SEMANTIC_TAGS = ("disorder", "finding", "procedure", "body structure", "morphologic abnormality", "organism")
WORDS = ("acute", "chronic", "left", "right", "upper", "lower", "lobe", "nerve", "valve", "artery", "duct",
         "tissue", "lesion", "infection", "fracture", "injury", "deficiency", "syndrome", "disorder", "stenosis")
EFFECTIVE = ("20020131", "20050731", "20080731", "20110131", "20150731", "20190301", "20230301", "20250301")
ICD_LETTERS = "ABCDEFGHIJKLMNOPQRSTZ"

# The releases generated into one scratch dir reuse nothing of each other: sizes live in the folder name.
DESCRIPTIONS_PER_CONCEPT = 1_200_000 / 360_000
RELATIONSHIPS_PER_CONCEPT = 1_500_000 / 360_000
MAPPED_SHARE = 0.45


def _sctid(item: int, partition: str) -> str:
    # item + partition + one digit: the partition is what the loader checks (not a Verhoeff check digit).
    return f"{item}{partition}{item % 10}"


def concept_id(i: int) -> str:
    return ROOT if i == 0 else _sctid(1_000_000 + i, "00")


def _member_uuid(kind: int, n: int) -> str:
    return f"{kind:08x}-{n >> 48 & 0xFFFF:04x}-4{n >> 36 & 0xFFF:03x}-8{n >> 24 & 0xFFF:03x}-{n & 0xFFFFFFFFFFFF:012x}"


@dataclass(frozen=True)
class GeneratedRelease:
    package: Path
    concepts: int
    descriptions: int
    relationships: int
    language_members: int
    map_rows: int
    seconds: float

    def as_dict(self) -> dict[str, object]:
        return {k: str(v) if isinstance(v, Path) else v for k, v in self.__dict__.items()}


def _writer(path: Path, header: tuple[str, ...]) -> TextIO:
    path.parent.mkdir(parents=True, exist_ok=True)
    out = path.open("w", encoding="utf-8", newline="", buffering=1 << 20)
    out.write("\t".join(header) + "\r\n")
    return out


def _file(root: Path, folder: str, stem: str) -> Path:
    return root / "Snapshot" / folder / f"{stem}_{NAMESPACE}_{RELEASE_DATE}.txt"


def _term(rng: random.Random, i: int) -> str:
    return f"{rng.choice(WORDS).capitalize()} {rng.choice(WORDS)} of {rng.choice(WORDS)} structure {i}"


def generate(out: Path, concepts: int, *, seed: int = 7) -> GeneratedRelease:
    """Write a Snapshot package of ``concepts`` concepts under ``out`` (replacing one already there)."""
    t0 = time.perf_counter()
    rng = random.Random(seed)
    package = out / PACKAGE_NAME
    if package.exists():
        shutil.rmtree(package)
    files = {
        "concept": _writer(_file(package, "Terminology", "sct2_Concept_Snapshot"),
                           ("id", "effectiveTime", "active", "moduleId", "definitionStatusId")),
        "description": _writer(_file(package, "Terminology", "sct2_Description_Snapshot-en"), (
            "id", "effectiveTime", "active", "moduleId", "conceptId", "languageCode", "typeId", "term",
            "caseSignificanceId")),
        "relationship": _writer(_file(package, "Terminology", "sct2_Relationship_Snapshot"), (
            "id", "effectiveTime", "active", "moduleId", "sourceId", "destinationId", "relationshipGroup", "typeId",
            "characteristicTypeId", "modifierId")),
        "language": _writer(_file(package, "Refset/Language", "der2_cRefset_LanguageSnapshot-en"), (
            "id", "effectiveTime", "active", "moduleId", "refsetId", "referencedComponentId", "acceptabilityId")),
        "map": _writer(_file(package, "Refset/Map", "der2_iisssccRefset_ExtendedMapSnapshot"), (
            "id", "effectiveTime", "active", "moduleId", "refsetId", "referencedComponentId", "mapGroup",
            "mapPriority", "mapRule", "mapAdvice", "mapTarget", "correlationId", "mapCategoryId")),
    }
    n_desc = n_rel = n_lang = n_map = 0
    extra_desc = DESCRIPTIONS_PER_CONCEPT - 2  # beyond the FSN and the preferred synonym
    attributes = RELATIONSHIPS_PER_CONCEPT - 1.6
    try:
        for i in range(concepts):
            cid = concept_id(i)
            when = rng.choice(EFFECTIVE)
            active = i == 0 or rng.random() > 0.04
            module = US_MODULE if i % 17 == 0 else CORE_MODULE
            files["concept"].write(f"{cid}\t{when}\t{int(active)}\t{module}\t{PRIMITIVE}\r\n")
            term = "SNOMED CT Concept" if i == 0 else _term(rng, i)
            tag = "SNOMED RT+CTV3" if i == 0 else SEMANTIC_TAGS[i % len(SEMANTIC_TAGS)]
            names = [(FSN, f"{term} ({tag})", PREFERRED, True), (SYNONYM, term, PREFERRED, True)]
            k = int(extra_desc) + (rng.random() < extra_desc % 1)
            names += [(SYNONYM, f"{term} variant {j}", ACCEPTABLE, rng.random() > 0.08) for j in range(k)]
            for type_id, text, acceptability, d_active in names:
                n_desc += 1
                did = _sctid(1_000_000 + n_desc, "01")
                files["description"].write(f"{did}\t{when}\t{int(d_active)}\t{module}\t{cid}\ten\t{type_id}\t"
                                           f"{text}\t{INITIAL_CAPITAL}\r\n")
                n_lang += 1
                files["language"].write(f"{_member_uuid(1, n_lang)}\t{when}\t{int(d_active)}\t{module}\t"
                                        f"{US_ENGLISH}\t{did}\t{acceptability}\r\n")
            if i == 0:
                continue
            parents = {rng.randrange(max(i - 5000, 0), i)} if active else set()
            if active and rng.random() < 0.6:
                parents.add(rng.randrange(0, i))
            links = [(IS_A, concept_id(p), 0, True) for p in sorted(parents)]
            if rng.random() < 0.03:  # a retired IS-A row to an earlier parent
                links.append((IS_A, concept_id(rng.randrange(0, i)), 0, False))
            k = int(attributes) + (rng.random() < attributes % 1) if active else 0
            links += [(rng.choice(ATTRIBUTES), concept_id(rng.randrange(0, concepts)), 1 + j // 2, True)
                      for j in range(k)]
            for type_id, destination, group, r_active in links:
                n_rel += 1
                files["relationship"].write(
                    f"{_sctid(1_000_000 + n_rel, '02')}\t{when}\t{int(r_active)}\t{module}\t{cid}\t{destination}\t"
                    f"{group}\t{type_id}\t{INFERRED}\t{EXISTENTIAL}\r\n")
            if rng.random() < MAPPED_SHARE:
                n_map = _write_map_rows(files["map"], rng, cid, when, n_map)
    finally:
        for handle in files.values():
            handle.close()
    return GeneratedRelease(package, concepts, n_desc, n_rel, n_lang, n_map, time.perf_counter() - t0)


def _icd10cm(rng: random.Random) -> str:
    return f"{rng.choice(ICD_LETTERS)}{rng.randrange(10)}{rng.randrange(10)}.{rng.randrange(10)}"


def _write_map_rows(out: TextIO, rng: random.Random, cid: str, when: str, n: int) -> int:
    """One or two map groups for a concept; each group's rules end with a TRUE or OTHERWISE TRUE row."""
    for group in range(1, 2 + (rng.random() < 0.2)):
        draw = rng.random()
        if draw < 0.08:
            rows = [("TRUE", "MAP SOURCE CONCEPT CANNOT BE CLASSIFIED WITH AVAILABLE DATA", "", CANNOT)]
        elif draw < 0.25:
            female, other = _icd10cm(rng), _icd10cm(rng)
            rows = [("IFA 248152002 | Female (finding) |", f"IF FEMALE (FINDING) CHOOSE {female}", female, CONTEXT),
                    ("OTHERWISE TRUE", f"ALWAYS {other}", other, CONTEXT)]
        elif draw < 0.35:
            young, other = _icd10cm(rng), _icd10cm(rng)
            rows = [("IFA 445518008 | Age at onset of clinical finding (observable entity) | < 18.0 years",
                     f"IF AGE AT ONSET < 18.0 YEARS CHOOSE {young}", young, CONTEXT),
                    ("OTHERWISE TRUE", f"ALWAYS {other}", other, CONTEXT)]
        else:
            target = _icd10cm(rng)
            rows = [("TRUE", f"ALWAYS {target}", target, PROPERLY)]
        for priority, (rule, advice, target, category) in enumerate(rows, start=1):
            n += 1
            out.write(f"{_member_uuid(2, n)}\t{when}\t1\t{MAP_MODULE}\t{ICD10CM_MAP}\t{cid}\t{group}\t{priority}\t"
                      f"{rule}\t{advice}\t{target}\t{CORRELATION}\t{category}\r\n")
    return n


# --- the bench -------------------------------------------------------------------------------------------------

_MAX_RSS = re.compile(r"Maximum resident set size \(kbytes\): (\d+)")
_ELAPSED = re.compile(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)")


@dataclass(frozen=True)
class MeasuredLoad:
    concepts: int
    seconds: float  # wall time of the `codegraph load snomed` process
    peak_rss_mb: float
    rows: int  # rows the loader wrote
    counts: dict[str, object]

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds

    @property
    def entities_per_second(self) -> float:
        """Nodes and relationships created per second: comparable across designs that batch rows differently."""
        created = int(self.counts.get("nodes_created", 0)) + int(self.counts.get("relationships_created", 0))
        return created / self.seconds


def load_with_cli(package: Path, concepts: int, *, env: dict[str, str] | None = None) -> MeasuredLoad:
    """``codegraph load snomed`` in its own process under /usr/bin/time -v: wall time and peak RSS."""
    codegraph = Path(sys.executable).with_name("codegraph")
    cmd = ["/usr/bin/time", "-v", str(codegraph), "load", "snomed", str(package), "--release", RELEASE_DATE]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"load failed ({done.returncode}): {done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    rss = _MAX_RSS.search(done.stderr)
    elapsed = _ELAPSED.search(done.stderr)
    if rss is None or elapsed is None:
        raise RuntimeError(f"/usr/bin/time printed no figures: {done.stderr[-2000:]}")
    hours, minutes, seconds = elapsed.groups()
    wall = int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds)
    counts = _summary_counts(done.stderr + done.stdout)  # the CLI's console is stderr
    return MeasuredLoad(concepts, wall, int(rss.group(1)) / 1024, int(counts.get("rows", 0)), counts)


_TABLE_ROW = re.compile(r"^[│|]\s*(\S+)\s*[│|]\s*(.+?)\s*[│|]\s*$", re.MULTILINE)


def _summary_counts(stdout: str) -> dict[str, object]:
    """The counts of the table the CLI prints after a load (``rows``, ``concepts``, ``is_a``, ...)."""
    counts: dict[str, object] = {}
    for key, value in _TABLE_ROW.findall(stdout):
        plain = value.replace(",", "")
        counts[key] = int(plain) if plain.isdigit() else value
    return counts


def discard_snomed(ctx: BenchContext) -> None:
    """Remove what the bench's SNOMED loads made, so the next size loads into the same state.

    Label by label, in batches (the ledger's ``discard_run`` scans every relationship per batch: minutes for
    the 1.4M relationships of a 360k-concept release). Only nodes stamped by a bench run are deleted."""
    from ontology.vocabulary import L, R

    records, _, _ = ctx.driver.execute_query(
        f"MATCH (r:{L.Release} {{id: $id}})-[:{R.PRODUCED_BY}]->(run:{L.LoadRun}) RETURN collect(run.id) AS runs",
        id=f"snomed@{RELEASE_DATE}", database_=ctx.database)
    runs = records[0]["runs"]
    with ctx.driver.session(database=ctx.database) as session:
        for label in (L.MapRule, L.SnomedConcept, L.ICD10CMCode):
            session.run(f"MATCH (n:{label}) WHERE n.load_run IN $runs "
                        "CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 5000 ROWS", runs=runs).consume()
        session.run(f"MATCH (r:{L.Release} {{id: $id}}) DETACH DELETE r", id=f"snomed@{RELEASE_DATE}").consume()


def ceiling_rows_per_second(ctx: BenchContext, rows: int = 100_000) -> float:
    from bench.load_ceiling import make_rows, raw_ceiling

    return raw_ceiling(ctx.driver, ctx.database, make_rows(rows), 5000)


def _measure(ctx: BenchContext, concepts: int) -> tuple[GeneratedRelease, MeasuredLoad]:
    release = generate(ctx.work_dir / f"snomed-{concepts}", concepts)
    discard_snomed(ctx)
    try:
        return release, load_with_cli(release.package, concepts)
    finally:
        discard_snomed(ctx)


def engine_speed_rows(ctx: BenchContext) -> list[Row]:
    """Issue 9's SNOMED rows: the 360k-concept load (time, peak RSS) and 100k concepts against the ceiling."""
    small, large = (20_000, 60_000) if ctx.quick else (100_000, 360_000)
    ceiling = ceiling_rows_per_second(ctx)
    small_release, small_load = _measure(ctx, small)
    large_release, large_load = _measure(ctx, large)
    ceiling_after = ceiling_rows_per_second(ctx)
    mean_ceiling = (ceiling + ceiling_after) / 2
    ratio = small_load.rows_per_second / mean_ceiling
    rss_growth = large_load.peak_rss_mb / small_load.peak_rss_mb
    sizes = {"descriptions": large_release.descriptions, "relationships": large_release.relationships,
             "language_members": large_release.language_members, "map_rows": large_release.map_rows}
    return [
        Row(path=f"SNOMED CT size: {large // 1000}k concepts load",
            measured=f"{large_load.seconds:.1f} s, peak RSS {large_load.peak_rss_mb:.0f} MB "
                     f"({small // 1000}k: {small_load.peak_rss_mb:.0f} MB, ×{rss_growth:.2f} for ×{large / small:.1f} "
                     f"concepts)",
            goal="< 120 s, memory flat (streamed)",
            met=None if ctx.quick else large_load.seconds < 120,
            details={"load": large_load.__dict__, "release": large_release.as_dict(), "sizes": sizes,
                     "load_average": load_average()}),
        Row(path=f"SNOMED {small // 1000}k concepts load, ratio to ceiling",
            measured=f"{small_load.seconds:.1f} s, {small_load.rows_per_second:,.0f} rows/s "
                     f"({small_load.rows:,} rows)",
            goal="≥ 0.8× raw UNWIND CREATE", met=None if ctx.quick else ratio >= 0.8, ratio=round(ratio, 3),
            baseline=f"raw UNWIND CREATE {ceiling:,.0f} / {ceiling_after:,.0f} rows/s (before / after)",
            details={"load": small_load.__dict__, "release": small_release.as_dict(),
                     "entities_per_second": round(small_load.entities_per_second),
                     "entities_ratio": round(small_load.entities_per_second / mean_ceiling, 3),
                     "load_average": load_average()}),
    ]


def _iter_sizes(text: str) -> Iterator[int]:
    for part in text.split(","):
        yield int(part.replace("k", "000"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate")
    gen.add_argument("--concepts", type=int, default=360_000)
    gen.add_argument("--out", type=Path, default=Path("/work/scratch/snomed"))
    gen.add_argument("--seed", type=int, default=7)
    bench = sub.add_parser("bench")
    bench.add_argument("--quick", action="store_true")
    bench.add_argument("--work-dir", type=Path, default=Path("/work/scratch/snomed-bench"))
    args = parser.parse_args()
    if args.command == "generate":
        print(json.dumps(generate(args.out, args.concepts, seed=args.seed).as_dict(), indent=2))
        return
    from codegraph.db import open_driver
    from codegraph.settings import get_settings

    settings = get_settings()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    with open_driver(settings) as driver:
        ctx = BenchContext(driver=driver, settings=settings, work_dir=args.work_dir, quick=args.quick)
        for row in engine_speed_rows(ctx):
            print(json.dumps(row.as_dict(), indent=2, default=str))


if __name__ == "__main__":
    main()
