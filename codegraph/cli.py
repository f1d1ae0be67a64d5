"""The `codegraph` command line: Neo4j runtime, schema and ontology, loads, releases, service, demo."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from codegraph.settings import Settings, get_settings

app = typer.Typer(no_args_is_help=True, help="Knowledge-graph ontology service for medical coding.")
neo4j_app = typer.Typer(no_args_is_help=True, help="The project's own local Neo4j server.")
schema_app = typer.Typer(no_args_is_help=True, help="Neo4j constraints and indexes generated from the ontology.")
ontology_app = typer.Typer(no_args_is_help=True, help="The formal model: export, check, docs.")
release_app = typer.Typer(no_args_is_help=True, help="Releases of each code system.")
apikey_app = typer.Typer(no_args_is_help=True, help="API keys with roles (hashed at rest).")
app.add_typer(neo4j_app, name="neo4j")
app.add_typer(schema_app, name="schema")
app.add_typer(ontology_app, name="ontology")
app.add_typer(release_app, name="release")
app.add_typer(apikey_app, name="apikey")

# Not a terminal (a log, CI): lines are never wrapped at 80 columns, so a file path stays whole on its line.
console = Console(stderr=True, soft_wrap=not sys.stderr.isatty())


def _fail(message: str, code: int = 1) -> typer.Exit:
    console.print(f"[bold red]error:[/] {escape(message)}")  # a path or found text may hold [brackets]
    return typer.Exit(code)


# ---- neo4j -------------------------------------------------------------------------------
@neo4j_app.command("start")
def neo4j_start() -> None:
    """Provision Neo4j 5.26 from Maven Central if missing, start it, wait for Bolt."""
    from codegraph.runtime.local_server import LocalNeo4j, LocalNeo4jError

    settings = get_settings()
    t0 = time.perf_counter()
    try:
        status = LocalNeo4j(settings).start(report=console.print)  # says so while it recovers from a crash
    except LocalNeo4jError as exc:
        raise _fail(str(exc)) from exc
    console.print(
        f"Neo4j {status.version} ready on {status.bolt_uri} (pid {status.pid}) in {time.perf_counter() - t0:.1f}s;"
        f" home {status.home}; log {status.log_file}; password in {settings.password_file}; java {status.java}"
        + {"recording": " (recording an AOT cache: written when it stops, used by later starts)",
           "mapped": " (AOT cache mapped)"}.get(status.aot, "")
    )


@neo4j_app.command("stop")
def neo4j_stop() -> None:
    """SIGTERM the local server and wait for it to exit."""
    from codegraph.runtime.local_server import LocalNeo4j

    server = LocalNeo4j(get_settings())
    if server.aot_state() == "recording":
        console.print("Neo4j is writing its AOT cache as it stops (once per machine and Java, ~25 s): later starts "
                      "map it")
    stopped = server.stop()
    console.print("Neo4j stopped" if stopped else "Neo4j was not running")


@neo4j_app.command("status")
def neo4j_status() -> None:
    from codegraph.runtime.local_server import LocalNeo4j

    s = LocalNeo4j(get_settings()).status()
    print(json.dumps({"running": s.running, "pid": s.pid, "bolt_uri": s.bolt_uri, "version": s.version,
                      "home": str(s.home), "log": str(s.log_file), "java": s.java, "aot_cache": s.aot}, indent=2))
    if not s.running:
        raise typer.Exit(3)


@neo4j_app.command("env")
def neo4j_env() -> None:
    """Print NEO4J_* exports for the local server (for tools and tests)."""
    s = get_settings()
    # NEO4J_USERNAME is what cypher-shell reads; NEO4J_USER what this project's settings read.
    print(f"export NEO4J_URI={s.bolt_uri}\nexport NEO4J_USER={s.neo4j_user}\nexport NEO4J_USERNAME={s.neo4j_user}\n"
          f"export NEO4J_PASSWORD={s.resolved_password()}\nexport NEO4J_DATABASE={s.neo4j_database}")


# ---- schema and ontology ------------------------------------------------------------------
def _driver(settings: Settings):  # type: ignore[no-untyped-def]
    from codegraph.db import open_driver

    return open_driver(settings)


@schema_app.command("apply")
def schema_apply() -> None:
    """Create the constraints and indexes the ontology declares (idempotent)."""
    from ontology.schema import apply_schema

    settings = get_settings()
    with _driver(settings) as driver:
        names = apply_schema(driver, settings.neo4j_database)
        from loaders.coding.payment_deltas import backfill_payment_shifts  # migrates graphs recorded before

        shifts = backfill_payment_shifts(driver, settings.neo4j_database)
    console.print(f"schema applied: {len(names)} constraints and indexes; payment shifts backfilled on {shifts} "
                  "revisions")


@ontology_app.command("export")
def ontology_export(
    fmt: Annotated[str, typer.Option("--format", help="ttl or owl (RDF/XML)")] = "ttl",
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
) -> None:
    from ontology.export import export_ontology

    try:
        text = export_ontology(fmt)
    except ValueError as exc:
        raise _fail(str(exc), 2) from exc
    if output:
        output.write_text(text)
    else:
        sys.stdout.write(text)


@ontology_app.command("check")
def ontology_check() -> None:
    """Check the graph against the ontology; exit 1 with each violation if it does not conform."""
    from ontology.check import check_graph

    settings = get_settings()
    with _driver(settings) as driver:
        violations = check_graph(driver, settings.neo4j_database)
    for v in violations:
        print(v)
    if violations:
        raise _fail(f"{len(violations)} kinds of violation")
    console.print("the graph conforms to the ontology")


@ontology_app.command("docs")
def ontology_docs(output: Annotated[Path, typer.Option("--output", "-o")] = Path("docs/ontology.md")) -> None:
    from ontology.docs import ontology_markdown

    output.write_text(ontology_markdown())
    console.print(f"wrote {output}")


# ---- loads --------------------------------------------------------------------------------
@app.command("load")
def load(
    source: Annotated[str, typer.Argument(help="what to load: icd10cm, icd10pcs, hcpcs, cpt, snomed, ...")],
    paths: Annotated[list[Path], typer.Argument(help="file(s) or directory of the official release")],
    release: Annotated[str, typer.Option(help="release version, e.g. FY2026 or 2026Q1")],
    dry_run: Annotated[bool, typer.Option(help="load into staging, print the diff and impact, discard")] = False,
    batch_size: Annotated[int | None, typer.Option(help="rows per transaction")] = None,
    force: Annotated[bool, typer.Option(help="promote even when a sanity gate holds the release")] = False,
    max_deleted_share: Annotated[float, typer.Option(
        min=0.0, max=1.0, envvar="CODEGRAPH_MAX_DELETED_SHARE",
        help="hold a release deleting more than this share of the previous release's codes")] = 0.05,
    max_retitled_share: Annotated[float, typer.Option(
        min=0.0, max=1.0, envvar="CODEGRAPH_MAX_RETITLED_SHARE",
        help="hold a release changing more than this share of the previous release's titles")] = 0.10,
) -> None:
    """Load an official release file into the graph (atomic; the very same files again are a no-op).

    A code release that deletes or retitles an implausible share of the previous release's codes is staged,
    reported and not promoted (exit 3) unless --force is given. Ctrl-C stops within seconds and leaves the
    graph as it was (exit 130)."""
    from loaders.errors import LoadError
    from loaders.machinery.gates import PromotionGates, ReleaseHeldError
    from loaders.machinery.runs import LoadInterruptedError
    from loaders.registry import all_loaders, load_source

    settings = get_settings()
    # The driver's retry and connection warnings are not for the maintainer: a lost Neo4j ends the load with
    # one line saying what to do (loaders/machinery/unreachable.py).
    logging.getLogger("neo4j").setLevel(logging.CRITICAL)
    if source not in all_loaders():
        raise _fail(f"unknown source {source!r}; known: {sorted(all_loaders())}", 2)
    gates = PromotionGates(max_deleted_share=max_deleted_share, max_retitled_share=max_retitled_share, force=force)
    try:
        with _driver(settings) as driver:
            report = load_source(
                driver, settings, source, paths, release, dry_run=dry_run,
                batch_size=batch_size or settings.batch_size, show_progress=sys.stderr.isatty(),
                gates=gates, log=console.print,
            )
    except ReleaseHeldError as exc:
        _print_report(exc.report)
        raise _fail(str(exc), 3) from None
    except LoadInterruptedError as exc:
        raise _fail(str(exc), 130) from None
    except KeyboardInterrupt:  # before the run started, or a second Ctrl-C during the clean-up
        raise _fail("interrupted; anything a run had written is removed by the next load (its process is gone)",
                    130) from None
    except LoadError as exc:
        raise _fail(str(exc)) from exc
    _print_report(report)


def _print_report(report) -> None:  # type: ignore[no-untyped-def]
    table = Table(title=f"{report.release}: {report.status} (run {report.run_id})")
    table.add_column("count")
    table.add_column("value", justify="right")
    for key, value in sorted(report.counts.items()):
        table.add_row(key, f"{value:,}" if isinstance(value, int) else str(value))
    table.add_row("rows/s", f"{report.stats.rows_per_second:,.0f}")
    table.add_row("wall seconds", f"{report.seconds:.1f}")
    console.print(table)
    if report.report:
        print(json.dumps(report.report, indent=2, default=str))


@release_app.command("list")
def release_list(
    system: Annotated[str | None, typer.Argument()] = None,
    retracted: Annotated[bool, typer.Option("--retracted", help="also retracted releases (kept for audit)")] = False,
) -> None:
    from loaders.machinery.runs import RunLedger

    settings = get_settings()
    with _driver(settings) as driver:
        rows = RunLedger(driver, settings.neo4j_database).visible_releases(system, retracted=retracted)
    print(json.dumps(rows, indent=2, default=str))


@release_app.command("retract")
def release_retract(
    system: str, version: str,
    reason: Annotated[str | None, typer.Option(help="why, recorded on the release")] = None,
    limit: Annotated[int, typer.Option(min=0, help="assignments listed (the count is complete)")] = 100,
) -> None:
    """Take a visible release out of service at once; it and its load runs stay for audit, and corrected files
    can then be loaded under the same release id. Lists the open coding assignments checked against it."""
    import getpass

    from loaders.machinery.lifecycle import ReleaseStateError, retract
    from loaders.machinery.runs import ReleaseSpec

    settings = get_settings()
    release_id = ReleaseSpec.parse(system, version).id
    with _driver(settings) as driver:
        try:
            out = retract(driver, settings.neo4j_database, release_id, reason=reason, by=f"cli:{getpass.getuser()}",
                          limit=limit)
        except ReleaseStateError as exc:
            raise _fail(str(exc)) from exc
    print(json.dumps(out.as_dict(), indent=2, default=str))
    console.print(f"{release_id} retracted: no longer served; {out.assignments_total:,} open coding assignments were "
                  f"checked against it. Load corrected files with `codegraph load {system} FILE… --release {version}`")


@release_app.command("diff")
def release_diff_cmd(
    system: str, from_version: str, to_version: str,
    limit: Annotated[int, typer.Option(help="codes listed per change kind")] = 50,
) -> None:
    """Codes added, deleted, retitled and billable-changed between two visible releases."""
    from graph_service.errors import ServiceError
    from graph_service.graph import Graph
    from graph_service.services.releases import release_diff

    settings = get_settings()
    with _driver(settings) as driver:
        try:
            out = release_diff(Graph(driver, settings.neo4j_database), system, from_version, to_version, limit)
        except ServiceError as exc:
            raise _fail(exc.detail) from exc
    print(out.model_dump_json(indent=2))


# ---- service ------------------------------------------------------------------------------
@apikey_app.command("create")
def apikey_create(role: Annotated[str, typer.Option(help="engine, auditor or maintainer")],
                  label: Annotated[str, typer.Option(help="who or what the key is for")] = "") -> None:
    """Create a key: the key is printed once; only its hash is stored in the state dir."""
    from codegraph.apikeys import add_key
    from graph_service.security import Role

    try:
        chosen = Role(role)
    except ValueError as exc:
        raise _fail(f"role must be one of {[r.value for r in Role]}", 2) from exc
    print(add_key(get_settings().api_keys_file, chosen, label))


@apikey_app.command("list")
def apikey_list() -> None:
    """The keys of the state dir's key file: id (start of the hash), role, label, created. Keys themselves are
    never stored, so they cannot be shown again."""
    from codegraph.apikeys import list_keys

    path = get_settings().api_keys_file
    entries = list_keys(path)
    if not entries:
        print(f"no API keys in {path} (codegraph apikey create --role engine)")
        return
    print(f"{'id':<14}{'role':<12}{'label':<16}created")
    for e in entries:
        print(f"{e.key_id:<14}{e.role:<12}{e.label or '-':<16}{e.created or '-'}")


@apikey_app.command("revoke")
def apikey_revoke(key_id: Annotated[str, typer.Argument(help="the id from `apikey list`, or the key itself")]) -> None:
    """Remove a key from the key file; a running service refuses it once restarted."""
    from codegraph.apikeys import revoke

    try:
        removed = revoke(get_settings().api_keys_file, key_id)
    except ValueError as exc:
        raise _fail(str(exc), 2) from exc
    if not removed:
        raise _fail(f"no key {key_id!r} (codegraph apikey list)", 1)
    for e in removed:
        print(f"revoked {e.key_id} ({e.role}{', ' + e.label if e.label else ''}); restart `codegraph serve` to "
              "apply it to a running service")


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option()] = None, port: Annotated[int | None, typer.Option()] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="worker processes (default: CODEGRAPH_API_WORKERS, "
                                                "one per core)")] = None,
) -> None:
    """Run the HTTP API with uvicorn: one process per core, each with its own driver and release tables."""
    import uvicorn

    settings = get_settings()
    uvicorn.run("graph_service.app:create_app", factory=True, host=host or settings.api_host,
                port=port or settings.api_port, workers=workers or settings.api_workers, log_level="warning",
                access_log=False)


demo_app = typer.Typer(help="The demo: local Neo4j, bundled releases, synthetic encounters, the API.")
app.add_typer(demo_app, name="demo")


@demo_app.callback(invoke_without_command=True)
def demo(ctx: typer.Context, serve_api: Annotated[bool, typer.Option("--serve/--no-serve")] = True) -> None:
    """The main job: start local Neo4j, apply the schema, load the bundled data and synthetic encounters, serve."""
    if ctx.invoked_subcommand is not None:
        return
    from codegraph.demo import run_demo

    run_demo(get_settings(), serve_api=serve_api, console=console)


@demo_app.command("generate")
def demo_generate(
    out: Annotated[Path, typer.Option(help="directory to write (fhir/ NDJSON shards, assignments.ndjson)")],
    encounters: Annotated[int, typer.Option(min=1, help="inpatient encounters to generate")] = 5000,
    seed: Annotated[int, typer.Option(help="the same seed gives the same data")] = 42,
    start: Annotated[str, typer.Option(help="first discharge date (ISO)")] = "2025-10-01",
    end: Annotated[str, typer.Option(help="last discharge date (ISO)")] = "2026-09-30",
) -> None:
    """Write seeded synthetic inpatient encounters (FHIR R4 NDJSON) and their coding assignments."""
    from datetime import date

    from demo_data.synthetic_encounters import generate

    try:
        summary = generate(out, encounters=encounters, seed=seed, start=date.fromisoformat(start),
                           end=date.fromisoformat(end))
    except ValueError as exc:
        raise _fail(str(exc), 2) from exc
    print(json.dumps(summary.as_dict(), indent=2))
    console.print(f"load with: codegraph load fhir {out / 'fhir'} --release synthetic-{seed} && "
                  f"codegraph load coding {out / 'assignments.ndjson'} --release synthetic-{seed}")


if __name__ == "__main__":
    app()
