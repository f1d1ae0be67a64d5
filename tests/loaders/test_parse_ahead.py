"""A release file parsed ahead of its load is used once, as if parsed by the load; a file changed after it was
parsed ahead is parsed again (never loaded stale); a parse that failed ahead fails the load that takes it."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from loaders.errors import LoadError
from loaders.icd10cm.tabular_model import ParsedTabular, parse_tabular
from loaders.machinery.parse_ahead import ParseAhead

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "icd10cm" / "icd10cm-tabular-excerpt.xml"


def _counting(calls: list[int]):  # type: ignore[no-untyped-def]
    def parse(paths: list[Path]) -> ParsedTabular:
        calls.append(threading.get_ident())
        return parse_tabular(paths)
    return parse


def test_a_prepared_parse_is_taken_once_and_equals_the_loads_own(tmp_path: Path) -> None:
    xml = Path(shutil.copy(FIXTURE, tmp_path / "tabular.xml"))
    ahead, calls = ParseAhead(), []
    ahead.submit("tabular", _counting(calls), [xml])
    taken = ahead.take("tabular", _counting(calls), [xml])
    assert len(calls) == 1 and calls[0] != threading.get_ident()  # parsed in the background, once
    own = parse_tabular([xml])
    assert [c.code for c in taken.model.codes] == [c.code for c in own.model.codes]
    assert taken.edges == own.edges and taken.unresolved == own.unresolved and taken.counts == own.counts
    assert ahead.held() == []
    ahead.take("tabular", _counting(calls), [xml])  # nothing held any more: the load parses for itself
    assert len(calls) == 2 and calls[1] == threading.get_ident()


def test_a_file_changed_after_its_parse_ahead_is_parsed_again(tmp_path: Path) -> None:
    xml = Path(shutil.copy(FIXTURE, tmp_path / "tabular.xml"))
    ahead = ParseAhead()
    ahead.submit("tabular", parse_tabular, [xml])
    first = parse_tabular([xml]).model.codes[0]
    text = xml.read_text()
    at = text.index("<desc>", text.index("<diag>")) + len("<desc>")  # the first category's title
    xml.write_text(text[:at] + "Title corrected after the parse ahead" + text[text.index("</desc>", at):])
    taken = ahead.take("tabular", parse_tabular, [xml])
    assert taken.model.codes[0].code == first.code
    assert taken.model.codes[0].title == "Title corrected after the parse ahead" != first.title
    assert ahead.held() == ["tabular"]  # the stale parse is never handed out; clear() drops it
    ahead.clear()
    assert ahead.held() == []


def test_a_parse_that_failed_ahead_fails_the_load(tmp_path: Path) -> None:
    bad = tmp_path / "tabular.xml"
    bad.write_text("<ICD10CM.tabular><chapter><name>1</name>")  # truncated
    ahead = ParseAhead()
    ahead.submit("tabular", parse_tabular, [bad])
    with pytest.raises(LoadError):
        ahead.take("tabular", parse_tabular, [bad])
