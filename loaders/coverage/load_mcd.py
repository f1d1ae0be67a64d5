"""Load a Medicare Coverage Database article download as Medicare payer policies (payer id ``medicare``).

Each article version becomes a ``PayerPolicy`` (``kind: 'mcd_article'``, ``document_id`` the display id
``A59001``, ``version`` the article version) with its contractors' numbers and names and the states of their
jurisdictions. Its rules follow ``pair_code_groups``:

- paired: one ``PolicyRule`` per (HCPCS group, covered ICD-10 group) pair, ``rule_id`` ``hcpc-1/covered-1``;
  the group's procedures are ``COVERED_BY`` it and its diagnoses ``COVERS_DIAGNOSIS`` it
  (``scope: 'code'``, ``group``, ``asterisk``, ``paired: true``);
- no covered group at all: one rule per HCPCS group (``hcpc-1``) that restricts no diagnosis;
- needs review: the policy carries ``needs_review`` and ``review_reason``, and one rule per HCPCS group
  (``hcpc-1/unpaired``) keeps every covered diagnosis of the article with ``paired: false``, so a
  diagnosis the article lists answers "needs review" rather than a guess.

The article's non-covered codes are ``DENIES_DIAGNOSIS`` edges on every rule of the article (the
export does not tie them to a HCPCS group).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from loaders.coverage.load_payer_rules import PolicyGraph
from loaders.coverage.mcd_articles import McdArticleExport, pair_article_groups, read_mcd_article_export
from loaders.coverage.mcd_pairing import ArticlePairing
from loaders.coverage.mcd_records import McdArticle, McdCodeGroup, McdDiagnosisCode, McdProcedureCode
from loaders.errors import LoadError
from loaders.machinery.pipeline import LoadContext
from loaders.registry import register
from ontology.vocabulary import R

MEDICARE_ID = "medicare"
MEDICARE_NAME = "Medicare (CMS)"
ARTICLE_STATUS = {"A": "active", "R": "retired", "F": "future"}

ArticleKey = tuple[int, int]


class _Article:
    """One article version's codes and group paragraphs, gathered from the export's tables."""

    def __init__(self, article: McdArticle) -> None:
        self.article = article
        self.procedures: defaultdict[int, list[McdProcedureCode]] = defaultdict(list)
        self.covered: defaultdict[int, list[McdDiagnosisCode]] = defaultdict(list)
        self.noncovered: list[McdDiagnosisCode] = []
        self.groups: dict[tuple[str, int], McdCodeGroup] = {}

    def paragraph(self, kind: str, group: int) -> str | None:
        found = self.groups.get((kind, group))
        return found.paragraph_text if found and found.paragraph_text else None


def _gather(export: McdArticleExport, where: str) -> dict[ArticleKey, _Article]:
    """Group every table's rows by article version, refusing rows of an article ``article.csv`` lacks."""
    articles = {(a.article_id, a.version): _Article(a) for a in export.articles}

    def of(table: str, record: Any) -> _Article:
        found = articles.get((record.article_id, record.version))
        if found is None:
            raise LoadError(f"{where}: {table} lists article {record.article_id} version {record.version}, "
                            "which article.csv does not hold")
        return found

    for proc in export.procedure_codes:
        of("article_x_hcpc_code.csv", proc).procedures[proc.group].append(proc)
    for diag in export.diagnosis_codes:
        article = of(f"article_x_icd10_{diag.kind}.csv", diag)
        if diag.kind == "covered":
            article.covered[diag.group].append(diag)
        else:
            article.noncovered.append(diag)
    for group in export.code_groups:
        of(f"{group.kind} group paragraphs", group).groups[group.kind, group.group] = group
    return articles


def _contractors(export: McdArticleExport, where: str) -> dict[ArticleKey, tuple[list[str], list[str], list[str]]]:
    """Per article version: contractor numbers, names, and the states of their jurisdictions."""
    known = {(c.contractor_id, c.contractor_type_id, c.contractor_version): c for c in export.contractors}
    out: defaultdict[ArticleKey, tuple[list[str], list[str], list[str]]] = defaultdict(lambda: ([], [], []))
    for link in export.article_contractors:
        key = (link.contractor_id, link.contractor_type_id, link.contractor_version)
        contractor = known.get(key)
        if contractor is None:
            raise LoadError(f"{where}: article_x_contractor.csv names contractor {key} for article "
                            f"{link.article_id} version {link.version}, which contractor.csv does not hold")
        numbers, names, states = out[link.article_id, link.version]
        numbers.append(contractor.number or str(contractor.contractor_id))
        names.append(contractor.name)
        states.extend(s for s in contractor.states if s not in states)
    return {k: (sorted(set(n)), sorted(set(m)), sorted(s)) for k, (n, m, s) in out.items()}


def _diagnoses(graph: PolicyGraph, rule: str, codes: Iterable[McdDiagnosisCode], article: _Article,
               *, paired: bool | None) -> None:
    for diag in codes:
        kind = "covered" if diag.kind == "covered" else "noncovered"
        group = article.groups.get((kind, diag.group))
        note = group.asterisk_text if diag.asterisk and group and group.asterisk_text else None
        rel_type = R.COVERS_DIAGNOSIS if diag.kind == "covered" else R.DENIES_DIAGNOSIS
        graph.add_diagnosis(rel_type, rule, diag.code, f"{kind} group {diag.group}", "code", group=diag.group,
                            asterisk=diag.asterisk, paired=paired, note=note)


def _procedures(graph: PolicyGraph, rule: str, article: _Article, group: int) -> None:
    for proc in article.procedures.get(group, ()):
        graph.add_procedure(rule, proc.code, f"HCPCS group {group}")


def _rules(graph: PolicyGraph, policy: str, article: _Article, pairing: ArticlePairing) -> list[str]:
    rules: list[str] = []
    hcpc_groups = sorted(article.procedures)
    if pairing.status == "paired" and pairing.pairs:
        for hcpc, covered in pairing.pairs:
            rule = graph.add_rule(policy, f"hcpc-{hcpc}/covered-{covered}", hcpc_group=hcpc, covered_group=covered,
                                  paired=True, restricts_diagnoses=True,
                                  hcpc_paragraph=article.paragraph("hcpc", hcpc),
                                  covered_paragraph=article.paragraph("covered", covered))
            _procedures(graph, rule, article, hcpc)
            _diagnoses(graph, rule, article.covered.get(covered, ()), article, paired=True)
            rules.append(rule)
    elif pairing.status == "paired":  # no covered group: the article restricts no diagnosis
        for hcpc in hcpc_groups:
            rule = graph.add_rule(policy, f"hcpc-{hcpc}", hcpc_group=hcpc, paired=True, restricts_diagnoses=False,
                                  hcpc_paragraph=article.paragraph("hcpc", hcpc))
            _procedures(graph, rule, article, hcpc)
            rules.append(rule)
    else:
        every_covered = [d for group in sorted(article.covered) for d in article.covered[group]]
        for hcpc in hcpc_groups or [None]:
            rule = graph.add_rule(policy, f"hcpc-{hcpc}/unpaired" if hcpc is not None else "unpaired",
                                  hcpc_group=hcpc, paired=False, restricts_diagnoses=True,
                                  hcpc_paragraph=article.paragraph("hcpc", hcpc) if hcpc is not None else None)
            if hcpc is not None:
                _procedures(graph, rule, article, hcpc)
            _diagnoses(graph, rule, every_covered, article, paired=False)
            rules.append(rule)
    return rules


def mcd_policy_graph(release: str, export: McdArticleExport, where: str) -> tuple[PolicyGraph, dict[str, int]]:
    """The coverage graph rows of an article download, and what the pairing decided."""
    articles = _gather(export, where)
    contractors = _contractors(export, where)
    pairings = pair_article_groups(export.code_groups, export.procedure_codes, export.diagnosis_codes)
    related: defaultdict[ArticleKey, list[str]] = defaultdict(list)
    for link in export.related_lcds:
        related[link.article_id, link.version].append(
            f"L{link.lcd_id}" + (f" v{link.lcd_version}" if link.lcd_version is not None else ""))
    graph = PolicyGraph(release)
    graph.add_payer(MEDICARE_ID, MEDICARE_NAME)
    counts = {"articles_paired": 0, "articles_needing_review": 0, "group_pairs": 0}
    for key, article in sorted(articles.items()):
        a = article.article
        pairing = pairings.get(key) or ArticlePairing("paired", (), "the article lists no codes")
        numbers, names, states = contractors.get(key, ([], [], []))
        review = pairing.status == "needs_review"
        policy = graph.add_policy(
            MEDICARE_ID, a.display_id, a.version, title=a.title, kind="mcd_article", effective_from=a.effective,
            effective_to=a.end, status=ARTICLE_STATUS.get(a.status.upper(), a.status), article_type=a.article_type,
            needs_review=review, review_reason=pairing.reason if review else None, pairing=pairing.reason,
            contractor_numbers=numbers, contractors=names, jurisdictions=states, related_lcds=related.get(key, []),
        )
        rules = _rules(graph, policy, article, pairing)
        for rule in rules:
            _diagnoses(graph, rule, article.noncovered, article, paired=None)
        counts["articles_needing_review" if review else "articles_paired"] += 1
        counts["group_pairs"] += len(pairing.pairs)
    return graph, counts


class McdLoader:
    name = "mcd"
    system_name = "Medicare Coverage Database articles"

    def write(self, ctx: LoadContext) -> None:
        if len(ctx.sources) != 1:
            given = [str(p) for p in ctx.sources]
            raise LoadError(f"one MCD article download per release (a folder or zip); got {given}")
        source: Path = ctx.sources[0]
        export = read_mcd_article_export(source)  # every table is read and checked before anything is written
        graph, counts = mcd_policy_graph(ctx.release.id, export, str(source))
        ctx.counts.update(counts)
        ctx.counts.update(graph.write(ctx))


register("mcd")(McdLoader)
