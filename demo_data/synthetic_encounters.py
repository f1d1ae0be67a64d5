"""Seeded synthetic inpatient encounters as FHIR R4 NDJSON, with coding assignments and their revisions.

``codegraph demo generate --encounters N --seed S --out DIR`` writes

    DIR/fhir/part-00000/{Patient,Coverage,Encounter,Condition,Procedure,Observation,DocumentReference}.ndjson …
    DIR/assignments.ndjson   one {"encounter", "version", "assignment"} per line, all version 1 lines first
    DIR/manifest.json        seed, counts, coders and revision kinds

Each stay follows a clinical scenario (heart failure with or without CKD, diabetes, AKI or respiratory
failure; pneumonia and sepsis; NSTEMI/STEMI with a drug-eluting stent; COPD exacerbation; femoral neck
fracture with hemiarthroplasty; GI bleeding; ischemic stroke) coded with real FY2026 ICD-10-CM and
ICD-10-PCS codes. Conditions also carry SNOMED CT codings where the project's SNOMED fixture has the
concept, so their findings map through the fixture's extended map. The discharge summary names every
documented condition in its sections.

Every encounter gets a version-1 final assignment (mostly by a coding engine). A share are revised —
an MCC added after a documentation query, the principal diagnosis resequenced, a CC removed on clinical
validation — and one coder (``coder-cruz``) revises upward far more often than peers, often adding a code
no documentation supports. Assigned codes cite the evidence ids the FHIR loader builds from the resource
ids (``Condition/<id>#icd10cm:<code>``, ``Observation/<id>#loinc:<code>``).

Output is streamed shard by shard and each encounter is drawn from its own seeded generator, so 100k
encounters take memory for one shard only and any encounter can be regenerated alone.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, Any

from demo_data.scenarios import ENGINES, HUMANS, RESOURCE_FILES, SHARD_SIZE, UPWARD_CODER
from demo_data.stays import Stay, generate_stay


@dataclass
class GenerationSummary:
    out: Path
    encounters: int
    shards: int
    assignments_by_version: dict[int, int]
    scenarios: dict[str, int]
    revisions: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {"out": str(self.out), "encounters": self.encounters, "shards": self.shards,
                "assignments_by_version": self.assignments_by_version, "scenarios": self.scenarios,
                "revisions": self.revisions}


def stays(seed: int, count: int, start: date, end: date, first: int = 1) -> Iterator[Stay]:
    days = (end - start).days + 1
    for number in range(first, first + count):
        yield generate_stay(seed, number, start, days)


def write_fhir_shard(directory: Path, shard: list[Stay]) -> None:
    """One NDJSON directory holding the stays' resources, a file per resource type."""
    directory.mkdir(parents=True, exist_ok=True)
    for kind in RESOURCE_FILES:
        with (directory / f"{kind}.ndjson").open("w") as handle:
            handle.writelines(json.dumps(r, separators=(",", ":")) + "\n"
                              for stay in shard for r in stay.resources[kind])


def generate(out: Path, *, encounters: int, seed: int, start: date = date(2025, 10, 1),
             end: date = date(2026, 9, 30), shard_size: int = SHARD_SIZE, first_number: int = 1) -> GenerationSummary:
    """Write ``encounters`` stays discharged between ``start`` and ``end`` under ``out`` (replacing it).

    ``first_number`` is the number of the first stay: a data set grows by generating the next numbers (stay ``n`` is
    the same whatever else is generated)."""
    if encounters < 1:
        raise ValueError("at least one encounter")
    if end < start:
        raise ValueError("end before start")
    if out.exists():
        shutil.rmtree(out / "fhir", ignore_errors=True)
    (out / "fhir").mkdir(parents=True, exist_ok=True)
    later = out / ".later-versions"
    later.mkdir(exist_ok=True)
    by_version: Counter[int] = Counter()
    scenarios: Counter[str] = Counter()
    revisions: Counter[str] = Counter()
    shards = 0
    with ExitStack() as stack:
        first = stack.enter_context((out / "assignments.ndjson").open("w"))
        later_files: dict[int, IO[str]] = {}
        shard: list[Stay] = []
        for stay in stays(seed, encounters, start, end, first_number):
            shard.append(stay)
            scenarios[stay.scenario] += 1
            revisions.update(stay.revision_kinds)
            for line in stay.assignments:
                v = line["version"]
                by_version[v] += 1
                target = first if v == 1 else later_files.get(v)
                if target is None:
                    target = later_files[v] = stack.enter_context((later / f"v{v}.ndjson").open("w"))
                target.write(json.dumps(line, separators=(",", ":")) + "\n")
            if len(shard) == shard_size:
                write_fhir_shard(out / "fhir" / f"part-{shards:05d}", shard)
                shards, shard = shards + 1, []
        if shard:
            write_fhir_shard(out / "fhir" / f"part-{shards:05d}", shard)
            shards += 1
        for v in sorted(later_files):  # version order: every superseded assignment precedes its successor
            later_files[v].close()
            with (later / f"v{v}.ndjson").open() as src:
                shutil.copyfileobj(src, first)
    shutil.rmtree(later)
    summary = GenerationSummary(out, encounters, shards, dict(sorted(by_version.items())), dict(scenarios),
                                dict(sorted(revisions.items())))
    manifest = {"seed": seed, "start": start.isoformat(), "end": end.isoformat(), **summary.as_dict(),
                "coders": {"engines": list(ENGINES), "humans": list(HUMANS), "upward": UPWARD_CODER},
                "load": [f"codegraph load fhir {out / 'fhir'} --release synthetic-{seed}",
                         f"codegraph load coding {out / 'assignments.ndjson'} --release synthetic-{seed}"]}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return summary
