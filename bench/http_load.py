"""HTTP load with wrk: random paths or POST bodies from a file, latency percentiles back as JSON.

Each run generates a Lua script into a scratch dir: every wrk thread reads the request list (one path, or
one JSON body, per line), picks one at random per request, and ``done()`` prints the summary and the
latency distribution as one JSON line that is parsed here. wrk counts a non-2xx/3xx answer as a
``status`` error; the caller treats any error as a failed run rather than a fast one.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

WRK = shutil.which("wrk") or "/usr/bin/wrk"
MARKER = "WRK_JSON "

_LUA = r"""
local items = {}
for line in io.lines(%(items)s) do items[#items + 1] = line end
local method, path = %(method)s, %(path)s
local headers = %(headers)s
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
end

function init(args)
  math.randomseed(seed * 7919 + os.time())
end

function request()
  local item = items[math.random(#items)]
  if method == "GET" then
    return wrk.format("GET", item, headers)
  end
  return wrk.format(method, path, headers, item)
end

function done(summary, latency, requests)
  local e = summary.errors
  local p = {}
  for _, q in ipairs({50, 75, 90, 99, 99.9}) do p[tostring(q)] = latency:percentile(q) / 1000.0 end
  io.write(string.format(
    '%(marker)s{"requests": %%d, "duration_s": %%.6f, "bytes": %%d, "errors": {"connect": %%d, "read": %%d, ' ..
    '"write": %%d, "status": %%d, "timeout": %%d}, "latency_ms": {"mean": %%.4f, "max": %%.4f, ' ..
    '"p50": %%.4f, "p75": %%.4f, "p90": %%.4f, "p99": %%.4f, "p99.9": %%.4f}}\n',
    summary.requests, summary.duration / 1e6, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean / 1000.0, latency.max / 1000.0, p["50"], p["75"], p["90"], p["99"], p["99.9"]))
end
"""


@dataclass
class Requests:
    """What wrk sends: GET of random ``items`` (paths), or ``method`` to ``path`` with random bodies."""

    items: list[str]
    method: str = "GET"
    path: str = "/"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class WrkResult:
    requests: int
    duration_s: float
    bytes: int
    errors: dict[str, int]
    latency_ms: dict[str, float]
    connections: int

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rps": round(self.rps, 1)}


def _lua_string(s: str) -> str:
    return json.dumps(s)  # a JSON string literal is a valid Lua string literal for ASCII text


def write_script(work_dir: Path, name: str, reqs: Requests) -> Path:
    if any("\n" in item for item in reqs.items):
        raise ValueError("request items go one per line: no newlines inside a path or body")
    items = work_dir / f"{name}.items"
    items.write_text("\n".join(reqs.items) + "\n")
    headers = "{" + ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in reqs.headers.items()) + "}"
    script = work_dir / f"{name}.lua"
    script.write_text(_LUA % {"items": _lua_string(str(items)), "method": _lua_string(reqs.method),
                              "path": _lua_string(reqs.path), "headers": headers, "marker": MARKER})
    return script


def run_wrk(base_url: str, script: Path, connections: int, duration_s: float, *, threads: int | None = None,
            timeout_s: float = 10.0) -> WrkResult:
    """One wrk run; two threads at most (the machine has two cores and the server needs them)."""
    threads = threads or min(2, connections)
    cmd = [WRK, "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(duration_s))}s",
           "--timeout", f"{timeout_s:g}s", "-s", str(script), base_url]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=duration_s + timeout_s + 60)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith(MARKER)), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout[-2000:]}{done.stderr[-2000:]}")
    data = json.loads(line[len(MARKER):])
    return WrkResult(requests=data["requests"], duration_s=data["duration_s"], bytes=data["bytes"],
                     errors=data["errors"], latency_ms=data["latency_ms"], connections=connections)
