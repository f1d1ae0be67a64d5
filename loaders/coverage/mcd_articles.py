"""Parse the Medicare Coverage Database article download (``current_article`` / ``all_article``).

Each ``iter_*`` function takes the export (a folder, the ``*_csv.zip``, or the outer download zip) and
streams one table's rows as records. ``read_mcd_article_export`` collects them all and
``pair_article_groups`` decides, per article, which HCPCS group each covered ICD-10 group supports.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from loaders.coverage.code_shapes import PROCEDURE_CODE
from loaders.coverage.mcd_csv import CsvRow, McdExport, strip_html
from loaders.coverage.mcd_pairing import ArticlePairing, pair_code_groups
from loaders.coverage.mcd_records import (
    DiagnosisKind,
    McdArticle,
    McdArticleContractor,
    McdCodeGroup,
    McdContractor,
    McdDiagnosisCode,
    McdProcedureCode,
    McdRelatedLcd,
)
from loaders.errors import ParseError, WrongFileError
from loaders.icd10cm.codes import DOTTED_CODE
from loaders.input_checks import RepeatedKeys, require_rows

__all__ = [
    "ArticlePairing",
    "McdArticleExport",
    "iter_article_contractors",
    "iter_articles",
    "iter_code_groups",
    "iter_contractors",
    "iter_diagnosis_codes",
    "iter_procedure_codes",
    "iter_related_lcds",
    "open_mcd_article_export",
    "pair_article_groups",
    "pair_code_groups",
    "read_mcd_article_export",
]

_KEY = ("article_id", "article_version")
_YES = {"y", "yes", "t", "true", "1", "*"}
_NO = {"", "n", "no", "f", "false", "0"}


def open_mcd_article_export(path: Path, *, encoding: str = "utf-8-sig") -> McdExport:
    """Open an article download, refusing an LCD/NCD download or a folder without ``article.csv``."""
    export = McdExport(path, encoding=encoding)
    if not export.has("article"):
        found = "an LCD download (lcd.csv)" if export.has("lcd") else "no article.csv"
        raise WrongFileError(path, None, None, "an MCD article download with article.csv", found)
    return export


def _export(source: Path | McdExport) -> McdExport:
    return source if isinstance(source, McdExport) else open_mcd_article_export(source)


def _key(row: CsvRow) -> tuple[int, int]:
    return row.integer("article_id"), row.integer("article_version")


def iter_articles(source: Path | McdExport) -> Iterator[McdArticle]:
    """Article versions; the same (article_id, article_version) twice is folded if identical, refused otherwise,
    and an export without any article (empty, or its header alone) is refused."""
    columns = (*_KEY, "article_type", "title", "article_eff_date", "article_end_date", "status", "display_id")
    seen: RepeatedKeys[tuple[int, int], McdArticle] = RepeatedKeys("article version", "article_id", _described)
    export = _export(source)
    for row in export.table("article", columns):
        article_id, version = _key(row)
        article = McdArticle(
            article_id=article_id,
            version=version,
            display_id=row.required("display_id"),
            title=row.required("title"),
            article_type=row.integer("article_type"),
            effective=row.day("article_eff_date"),
            end=row.optional_day("article_end_date"),
            status=row.required("status"),
        )
        if article.end is not None and article.end < article.effective:
            raise ParseError(row.file, row.line, "article_end_date",
                             f"an end date not before article_eff_date {article.effective}", str(article.end))
        if seen.first((article_id, version), article, row.file, row.line):
            yield article
    require_rows(export.where("article"), len(seen), "article row", 1)


def _described(article: McdArticle) -> str:
    return (f"{article.display_id} {article.title!r}, type {article.article_type}, in force {article.effective} to "
            f"{article.end or 'open'}, status {article.status}")


def iter_procedure_codes(source: Path | McdExport) -> Iterator[McdProcedureCode]:
    columns = (*_KEY, "hcpc_code_id", "hcpc_code_group", "long_description", "short_description")
    seen: RepeatedKeys[tuple[int, int, int, str], str] = RepeatedKeys("HCPCS row", "long_description")
    for row in _export(source).table("article_x_hcpc_code", columns):
        code = row.code("hcpc_code_id", PROCEDURE_CODE, "a 5-character CPT/HCPCS code")
        article_id, version = _key(row)
        listed = McdProcedureCode(
            article_id=article_id,
            version=version,
            group=row.integer("hcpc_code_group"),
            code=code,
            description=row.text("long_description") or row.text("short_description"),
        )
        if seen.first((article_id, version, listed.group, code), listed.description, row.file, row.line):
            yield listed


# (table, group column, kind, asterisk-text column or None)
_GROUP_TABLES = (
    ("article_x_hcpc_code_group", "hcpc_code_group", "hcpc", None),
    ("article_x_icd10_covered_group", "icd10_covered_group", "covered", "icd10_covered_ast"),
    ("article_x_icd10_noncovered_group", "icd10_noncovered_group", "noncovered", None),
)


def iter_code_groups(source: Path | McdExport) -> Iterator[McdCodeGroup]:
    """Group paragraphs of all three kinds, HCPCS groups first; the paragraph HTML is reduced to text."""
    export = _export(source)
    for table, group_column, kind, asterisk_column in _GROUP_TABLES:
        columns = (*_KEY, group_column, "paragraph") + ((asterisk_column,) if asterisk_column else ())
        for row in export.table(table, columns):
            article_id, version = _key(row)
            yield McdCodeGroup(
                article_id=article_id,
                version=version,
                kind=kind,
                group=row.integer(group_column),
                paragraph_text=strip_html(row.text("paragraph")),
                asterisk_text=strip_html(row.text(asterisk_column)) if asterisk_column else "",
            )


def _asterisk(row: CsvRow) -> bool:
    value = row.text("asterisk").lower()
    if value in _YES:
        return True
    if value in _NO:
        return False
    raise ParseError(row.file, row.line, "asterisk", "Y/N (or empty)", value)


def iter_diagnosis_codes(source: Path | McdExport) -> Iterator[McdDiagnosisCode]:
    """Covered codes (``article_x_icd10_covered``) then non-covered codes, each dotted as the export writes them."""
    export = _export(source)
    tables: tuple[tuple[str, str, DiagnosisKind], ...] = (
        ("article_x_icd10_covered", "icd10_covered_group", "covered"),
        ("article_x_icd10_noncovered", "icd10_noncovered_group", "noncovered"),
    )
    for table, group_column, kind in tables:
        columns = (*_KEY, "icd10_code_id", group_column, "description")
        columns += ("asterisk",) if kind == "covered" else ()
        seen: RepeatedKeys[tuple[int, int, int, str], tuple[bool, str]] = RepeatedKeys(
            f"{kind} ICD-10 row", "asterisk, description")
        for row in export.table(table, columns):
            code = row.code("icd10_code_id", DOTTED_CODE, "a dotted ICD-10-CM code (I50.9)")
            article_id, version = _key(row)
            listed = McdDiagnosisCode(
                article_id=article_id,
                version=version,
                kind=kind,
                group=row.integer(group_column),
                code=code,
                asterisk=_asterisk(row) if kind == "covered" else False,
                sort_order=row.optional_integer("sort_order"),
                description=row.text("description"),
            )
            # sort_order is display order only: a repeat differing in it alone is still the same listing.
            content = (listed.asterisk, listed.description)
            if seen.first((article_id, version, listed.group, code), content, row.file, row.line):
                yield listed


def iter_related_lcds(source: Path | McdExport) -> Iterator[McdRelatedLcd]:
    """LCD links only: rows of ``article_related_documents`` that point at another article are left out."""
    for row in _export(source).table("article_related_documents", (*_KEY, "r_lcd_id", "r_lcd_version")):
        if not row.text("r_lcd_id"):
            continue
        article_id, version = _key(row)
        yield McdRelatedLcd(article_id, version, row.integer("r_lcd_id"), row.optional_integer("r_lcd_version"))


_CONTRACTOR_KEY = ("contractor_id", "contractor_type_id", "contractor_version")


def _contractor_key(row: CsvRow) -> tuple[int, int, int]:
    return row.integer("contractor_id"), row.integer("contractor_type_id"), row.integer("contractor_version")


def iter_article_contractors(source: Path | McdExport) -> Iterator[McdArticleContractor]:
    for row in _export(source).table("article_x_contractor", (*_KEY, *_CONTRACTOR_KEY)):
        yield McdArticleContractor(*_key(row), *_contractor_key(row))


def _contractor_states(export: McdExport) -> dict[tuple[int, int, int], tuple[str, ...]]:
    """States still in each contractor's jurisdiction (no ``term_date``), when the export has those tables."""
    if not (export.has("contractor_jurisdiction") and export.has("state_lookup")):
        return {}
    abbrev = {
        row.integer("state_id"): row.required("state_abbrev")
        for row in export.table("state_lookup", ("state_id", "state_abbrev"))
    }
    states: defaultdict[tuple[int, int, int], set[str]] = defaultdict(set)
    for row in export.table("contractor_jurisdiction", (*_CONTRACTOR_KEY, "state_id", "term_date")):
        if row.text("term_date"):
            continue
        state_id = row.integer("state_id")
        if state_id not in abbrev:
            raise ParseError(row.file, row.line, "state_id", "an id listed in state_lookup.csv", str(state_id))
        states[_contractor_key(row)].add(abbrev[state_id])
    return {key: tuple(sorted(found)) for key, found in states.items()}


def iter_contractors(source: Path | McdExport) -> Iterator[McdContractor]:
    export = _export(source)
    states = _contractor_states(export)
    for row in export.table("contractor", (*_CONTRACTOR_KEY, "contractor_bus_name", "contractor_number")):
        key = _contractor_key(row)
        yield McdContractor(*key, row.required("contractor_bus_name"), row.text("contractor_number"),
                            states.get(key, ()))


@dataclass(frozen=True, slots=True)
class McdArticleExport:
    """Every record of an article download, table by table."""

    articles: tuple[McdArticle, ...]
    procedure_codes: tuple[McdProcedureCode, ...]
    code_groups: tuple[McdCodeGroup, ...]
    diagnosis_codes: tuple[McdDiagnosisCode, ...]
    related_lcds: tuple[McdRelatedLcd, ...]
    article_contractors: tuple[McdArticleContractor, ...]
    contractors: tuple[McdContractor, ...]


def read_mcd_article_export(path: Path, *, encoding: str = "utf-8-sig") -> McdArticleExport:
    """Read the whole download into memory (the current-article set is a few hundred thousand rows)."""
    export = open_mcd_article_export(path, encoding=encoding)
    return McdArticleExport(
        articles=tuple(iter_articles(export)),
        procedure_codes=tuple(iter_procedure_codes(export)),
        code_groups=tuple(iter_code_groups(export)),
        diagnosis_codes=tuple(iter_diagnosis_codes(export)),
        related_lcds=tuple(iter_related_lcds(export)),
        article_contractors=tuple(iter_article_contractors(export)),
        contractors=tuple(iter_contractors(export)),
    )


def pair_article_groups(
    groups: Iterable[McdCodeGroup],
    procedure_codes: Iterable[McdProcedureCode],
    diagnosis_codes: Iterable[McdDiagnosisCode],
) -> dict[tuple[int, int], ArticlePairing]:
    """``pair_code_groups`` for every (article_id, version) that lists procedure or diagnosis codes."""
    by_article: defaultdict[tuple[int, int], tuple[list, list, list]] = defaultdict(lambda: ([], [], []))
    for group in groups:
        by_article[group.article_id, group.version][0].append(group)
    for code in procedure_codes:
        by_article[code.article_id, code.version][1].append(code)
    for diagnosis in diagnosis_codes:
        by_article[diagnosis.article_id, diagnosis.version][2].append(diagnosis)
    return {key: pair_code_groups(*lists) for key, lists in sorted(by_article.items())}
