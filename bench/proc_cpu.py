"""CPU time of a process tree from /proc (Linux), and the process listening on a TCP port.

Used to charge each request its server CPU: the tree's user+sys time after a load run minus before,
over the requests served. The tree matters because uvicorn's ``--workers`` forks (spawns) children.
"""

from __future__ import annotations

import os
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after its closing one.
    return raw[raw.rindex(")") + 2:].split()


def _all_parents() -> dict[int, int]:
    parents = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None:
                parents[int(entry.name)] = int(fields[1])  # field 4: ppid
    return parents


def machine_cpu_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all cores since boot, from the first line of /proc/stat."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants alive now."""
    children: dict[int, list[int]] = {}
    for pid, ppid in _all_parents().items():
        children.setdefault(ppid, []).append(pid)
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process (its own threads; reaped children not included)."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # fields 14, 15: utime, stime


def _thread_group(name: str) -> str:
    """A JVM thread's name → what it does: the JIT's compilers, GC, Bolt workers (the queries), or the name."""
    if name.startswith("C2 "):
        return "C2 compiler"
    if name.startswith("C1 "):
        return "C1 compiler"
    if "GC" in name or name.startswith("G1 "):
        return "GC"
    if "bolt" in name.lower():
        return "Bolt workers"
    return name.rstrip("0123456789-_ ") or name


def cpu_by_thread_group(pid: int) -> dict[str, float]:
    """CPU seconds of one process's live threads, summed by ``_thread_group`` (Linux ``/proc/<pid>/task``): where
    a JVM's CPU goes — a fresh Neo4j spends a third of a first load's CPU compiling itself (bench/RESULTS.md)."""
    out: dict[str, float] = {}
    try:
        tasks = list(os.scandir(f"/proc/{pid}/task"))
    except FileNotFoundError:
        return out
    for task in tasks:
        try:
            name = Path(task.path, "comm").read_text().strip()
            raw = Path(task.path, "stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread ended between the listing and the read
        fields = raw[raw.rindex(")") + 2:].split()
        group = _thread_group(name)
        out[group] = out.get(group, 0.0) + (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return out


def cpu_delta_by_group(before: dict[str, float], after: dict[str, float], least: float = 0.2) -> dict[str, float]:
    """``after`` − ``before`` per group, largest first, groups under ``least`` seconds left out."""
    delta = {group: round(after[group] - before.get(group, 0.0), 1) for group in after}
    return dict(sorted(((g, d) for g, d in delta.items() if d >= least), key=lambda kv: -kv[1]))


class TreeCpu:
    """Snapshot of a process tree's CPU per process; ``since`` gives the CPU spent between two snapshots.

    Per-process deltas, so a worker that exits or starts in between is counted for what it did.
    """

    def __init__(self, root: int) -> None:
        self.root = root
        self.times = {pid: cpu_seconds(pid) for pid in process_tree(root)}

    def since(self, before: TreeCpu) -> float:
        return sum(t - before.times.get(pid, 0.0) for pid, t in self.times.items())


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            cols = line.split()
            local, state, inode = cols[1], cols[3], cols[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(inode)
    return inodes


def pid_listening_on(port: int) -> int | None:
    """The process that holds the listening socket of ``port`` on this machine, if it can be seen."""
    inodes = {f"socket:[{i}]" for i in _listening_inodes(port)}
    if not inodes:
        return None
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            for fd in os.scandir(f"/proc/{entry.name}/fd"):
                if os.readlink(fd.path) in inodes:
                    return int(entry.name)
        except (FileNotFoundError, PermissionError, ProcessLookupError, NotADirectoryError):
            continue
    return None
