"""Issue 9's demo row: fresh state dir to "ready" with ``bash scripts/demo.sh --no-serve``, step by step.

The demo runs as the README says, in its own process with its own Neo4j (a fresh state dir: the jars are
copied from the warm Maven cache, the server started, the schema applied, every bundled release and the
synthetic encounters loaded). The step table the demo prints at the end is parsed into the row's details.

Usage: python -m bench.snomed_demo [--bolt-port 7714] [--state-dir /work/scratch/demo-state]
(the port must be free: the demo starts its own server there and the bench stops it afterwards).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from bench.common import BenchContext, Row, load_average

REPO = Path(__file__).resolve().parent.parent
_STEP = re.compile(r"^[│|]\s*(\S+(?: \S+)?)\s*[│|]\s*([\d.]+)\s*[│|]\s*([\d.]+)\s*[│|]\s*([\d,]*)\s*[│|]\s*([\d,]*)\s*"
                   r"[│|]\s*(.+?)\s*[│|]\s*$", re.MULTILINE)
_READY = re.compile(r"demo: ready in ([\d.]+)s")


def run_demo_fresh(state_dir: Path, bolt_port: int, *, jobs: int | None = None) -> tuple[float, dict[str, object]]:
    """Wall seconds of ``bash scripts/demo.sh --no-serve`` on an empty ``state_dir``, and the demo's own figures."""
    if state_dir.exists():
        shutil.rmtree(state_dir)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEO4J_")}  # the demo's own local server
    env.update(CODEGRAPH_STATE_DIR=str(state_dir), CODEGRAPH_BOLT_PORT=str(bolt_port))
    if jobs is not None:
        env["CODEGRAPH_DEMO_JOBS"] = str(jobs)
    t0 = time.perf_counter()
    try:
        done = subprocess.run(["bash", "scripts/demo.sh", "--no-serve"], cwd=REPO, env=env, capture_output=True,
                              text=True, check=False)
        wall = time.perf_counter() - t0
    finally:
        subprocess.run([str(REPO / ".venv" / "bin" / "codegraph"), "neo4j", "stop"], cwd=REPO, env=env,
                       capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"demo failed ({done.returncode}): {done.stderr[-3000:]}")
    out = done.stderr + done.stdout
    ready = _READY.search(out)
    steps = [{"step": m[0], "started": float(m[1]), "seconds": float(m[2]), "rows": int(m[3].replace(",", "") or 0),
              "status": m[5]} for m in _STEP.findall(out)]
    return wall, {"ready_s": float(ready.group(1)) if ready else None, "steps": steps,
                  "stderr_lines": out.count("\n")}


def demo_ready_rows(ctx: BenchContext) -> list[Row]:
    """The demo row; needs ``ctx.options["demo_bolt_port"]`` (a free port) — skipped with a note otherwise."""
    port = ctx.options.get("demo_bolt_port")
    if port is None:
        return [Row(path="the whole demo, fresh clone to \"ready\"", measured="not run (no demo_bolt_port)",
                    goal="< 90 s to ready on a quiet machine", met=None)]
    wall, figures = run_demo_fresh(ctx.work_dir / "demo-state", int(port))
    slowest = sorted(figures["steps"], key=lambda s: -s["seconds"])[:3]  # type: ignore[index]
    return [Row(path="the whole demo, fresh clone to \"ready\"",
                measured=f"{wall:.0f} s wall (demo's own clock {figures['ready_s']} s); slowest: "
                         + ", ".join(f"{s['step']} {s['seconds']:.0f} s" for s in slowest),
                goal="< 90 s to ready on a quiet machine", met=None if load_average()[0] > 2 else wall < 90,
                details={**figures, "load_average": load_average()})]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bolt-port", type=int, default=7714)
    parser.add_argument("--state-dir", type=Path, default=Path("/work/scratch/demo-state"))
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args()
    wall, figures = run_demo_fresh(args.state_dir, args.bolt_port, jobs=args.jobs)
    print(json.dumps({"wall_s": round(wall, 1), **figures, "load_average": load_average()}, indent=2))


if __name__ == "__main__":
    main()
