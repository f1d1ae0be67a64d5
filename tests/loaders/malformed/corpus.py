"""The malformed-file corpus: per format a folder with ``cases.toml``, the valid files under ``valid/`` and one
folder per variant holding only the files it changes (each breaks one thing).

``cases.toml``::

    source = "icd10pcs"            # the loader, as on the command line
    baseline = "FY2025"            # the valid files (or baseline/) are loaded first under this release
    release = "FY2026"             # each variant is loaded under this one
    inputs = ["order.txt"]         # what is passed to the loader, relative to the assembled folder ("." = it)

    [[variant]]
    name = "empty_order_file"      # the folder <format>/<name>/ overlays valid/
    why = "what the defect is"
    expect = ["order.txt:", "rows"]  # substrings of the refusal (file, line or row, field)
    outcome = "refused"            # or "loads" (a variant real files carry, or an identical repeat folded)
    remove = ["x.txt"]             # files of valid/ the variant deletes
    inflate = { file = "order.txt", marker = "Bypass", bytes = 10485760 }  # a field grown at test time
"""

from __future__ import annotations

import shutil
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Variant:
    format: str
    name: str
    why: str
    expect: tuple[str, ...]
    outcome: str
    remove: tuple[str, ...] = ()
    inflate: dict[str, Any] | None = None
    inputs: tuple[str, ...] | None = None
    changed: tuple[str, ...] = field(default=())  # file names the variant overlays (one must be named)
    folded: dict[str, int] = field(default_factory=dict)  # "<file>: <record>" -> identical repeats folded

    @property
    def id(self) -> str:
        return f"{self.format}/{self.name}"


@dataclass(frozen=True)
class FormatCases:
    format: str
    source: str
    baseline: str
    release: str
    inputs: tuple[str, ...]
    variants: tuple[Variant, ...]

    @property
    def folder(self) -> Path:
        return CORPUS / self.format

    def assemble(self, variant: Variant | None, into: Path, *, baseline: bool = False) -> list[Path]:
        """A folder holding the valid files with ``variant`` applied; the paths to pass to the loader.

        ``baseline``: the files loaded first; a format whose release is named by its files (SNOMED CT) keeps
        them in ``baseline/``, others load ``valid/`` under the baseline release."""
        if baseline and (self.folder / "baseline").is_dir():
            target = into / "files"
            shutil.copytree(self.folder / "baseline", target)
            return [target if name == "." else target / name for name in self.inputs]
        target = into / (variant.name if variant else "valid") / "files"
        shutil.copytree(self.folder / "valid", target)
        if variant is not None:
            overlay = self.folder / variant.name
            if overlay.is_dir():
                shutil.copytree(overlay, target, dirs_exist_ok=True)
            for name in variant.remove:
                (target / name).unlink()
            if variant.inflate:
                _inflate(target / variant.inflate["file"], variant.inflate["marker"], int(variant.inflate["bytes"]))
        inputs = (variant.inputs if variant and variant.inputs else None) or self.inputs
        return [target if name == "." else target / name for name in inputs]


def _inflate(path: Path, marker: str, size: int) -> None:
    """Grow the field holding ``marker`` (its first occurrence) by ``size`` letters, streaming the write."""
    data = path.read_bytes()
    at = data.index(marker.encode()) + len(marker)
    with path.open("wb") as out:
        out.write(data[:at])
        chunk = b"x" * (1 << 20)
        for _ in range(size // len(chunk)):
            out.write(chunk)
        out.write(b"x" * (size % len(chunk)))
        out.write(data[at:])


def _changed(folder: Path, name: str, spec: dict[str, Any]) -> tuple[str, ...]:
    overlay = folder / name
    files = [p.name for p in overlay.rglob("*") if p.is_file()] if overlay.is_dir() else []
    files += [Path(n).name for n in spec.get("remove", [])]
    if spec.get("inflate"):
        files.append(Path(spec["inflate"]["file"]).name)
    return tuple(files)


def load_cases() -> list[FormatCases]:
    cases = []
    for toml in sorted(CORPUS.glob("*/cases.toml")):
        spec = tomllib.loads(toml.read_text())
        fmt = toml.parent.name
        variants = tuple(
            Variant(
                format=fmt, name=v["name"], why=v["why"], expect=tuple(v.get("expect", ())),
                outcome=v.get("outcome", "refused"), remove=tuple(v.get("remove", ())), inflate=v.get("inflate"),
                inputs=tuple(v["inputs"]) if "inputs" in v else None, changed=_changed(toml.parent, v["name"], v),
                folded=dict(v.get("folded", {})),
            )
            for v in spec.get("variant", [])
        )
        cases.append(FormatCases(fmt, spec["source"], spec["baseline"], spec["release"], tuple(spec["inputs"]),
                                 variants))
    return cases
