"""A seeded "next fiscal year" of an ICD-10-CM tabular XML, for the load benchmark: the annual update a maintainer
loads on top of the release in the graph.

A real annual update adds a few hundred codes and deletes and retitles a few dozen (FY2026: 487 added, 28
deleted, 38 revised, of ~74k billable codes). This one does the same to the given file, in the official layout:
new codes are children of existing headers (the next free last character), deleted codes are leaves of headers
that keep another child, revised titles are leaves' descriptions. Notes naming a deleted code resolve
differently, as they would in a real update.

Usage: python -m bench.icd10cm_next_release IN.xml OUT.xml [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import string
from pathlib import Path

from lxml import etree

ADDED, DELETED, REVISED = 480, 30, 40


def _children(diag: etree._Element) -> list[etree._Element]:
    return diag.findall("diag")


def _name(diag: etree._Element) -> str:
    return (diag.findtext("name") or "").strip()


def _free_child(header: etree._Element) -> str | None:
    """The next code under ``header`` in its children's form (``A00`` → ``A00.x``, ``A01.0`` → ``A01.0x``)."""
    code, kids = _name(header), [_name(k) for k in _children(header)]
    stem = code + "." if "." not in code else code
    if not kids or any(len(k) != len(stem) + 1 or not k.startswith(stem) for k in kids) or len(stem) >= 7:
        return None
    used = {k[-1] for k in kids}
    free = [c for c in string.digits + "ABCDEFGHJKLMNPQRSTVWXYZ" if c not in used]
    return stem + free[0] if free else None


def next_release(source: Path, target: Path, seed: int = 1) -> dict[str, int]:
    """Write the changed copy; returns how many codes were added, deleted and retitled."""
    rng = random.Random(seed)
    tree = etree.parse(str(source))
    diags = list(tree.getroot().iter("diag"))
    leaves = [d for d in diags if not _children(d)]
    headers = [d for d in diags if _children(d)]
    counts = {"added": 0, "deleted": 0, "revised": 0}
    for leaf in rng.sample(leaves, REVISED):
        desc = leaf.find("desc")
        desc.text = f"{desc.text} (revised)"
        counts["revised"] += 1
    revised = {id(d) for d in leaves if (d.findtext("desc") or "").endswith("(revised)")}
    for leaf in rng.sample(leaves, DELETED * 3):
        parent = leaf.getparent()
        if counts["deleted"] == DELETED:
            break
        if id(leaf) in revised or parent.tag != "diag" or len(_children(parent)) < 2:
            continue
        parent.remove(leaf)
        counts["deleted"] += 1
    rng.shuffle(headers)
    for header in headers:
        if counts["added"] == ADDED:
            break
        code = _free_child(header)
        if code is None:
            continue
        new = etree.SubElement(header, "diag")
        etree.SubElement(new, "name").text = code
        etree.SubElement(new, "desc").text = f"Synthetic code {code} of the benchmark's next release"
        counts["added"] += 1
    tree.write(str(target), xml_declaration=True, encoding="UTF-8")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(next_release(args.source, args.target, args.seed))


if __name__ == "__main__":
    main()
