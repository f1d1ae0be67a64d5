"""Payer rule YAML: the sample payers load; every error names file, YAML path and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from loaders.coverage.payer_rules import PayerRulesError, iter_payer_rules, load_payer_rules

PAYERS = Path(__file__).parents[2] / "fixtures" / "coverage" / "payers"

HEAD = """format: codegraph-payer-rules/1
payer: {id: test, name: Test}
plans: [{id: p1, name: Plan one}]
policies:
  - id: POL-1
    version: 1
    title: Echo
    effective: {from: 2024-01-01}
    procedures: ["93306"]
"""


def load(tmp_path: Path, text: str):
    path = tmp_path / "payer.yaml"
    path.write_text(text)
    return load_payer_rules(path)


def test_sample_payers_load_with_their_policies() -> None:
    rules = {r.payer.id: r for r in iter_payer_rules(PAYERS)}
    assert sorted(rules) == ["acme_health", "northwind_mutual"]
    assert {p.procedures[0].code for p in rules["acme_health"].policies} == {"93306", "27447", "72148", "45378"}


def test_diagnosis_specs_expose_code_range_and_hierarchy() -> None:
    echo = load_payer_rules(PAYERS / "acme_health.yaml").policies[0]
    kinds = {(d.kind, d.code, d.code_to) for d in echo.covered_diagnoses}
    assert ("hierarchy", "I50", None) in kinds
    assert ("range", "I48.0", "I48.21") in kinds
    assert ("code", "Q21.1", None) in kinds
    assert [d.code for d in echo.noncovered_diagnoses] == ["Z00.00", "Z01.810"]


def test_procedure_ranges_windows_prior_auth_and_frequency() -> None:
    acme = load_payer_rules(PAYERS / "acme_health.yaml")
    echo, knee, _, colon = acme.policies
    assert (echo.procedures[1].kind, echo.procedures[1].code, echo.procedures[1].code_to) == ("range", "93307", "93308")
    assert echo.effective.end is None and str(colon.effective.end) == "2025-12-31"
    assert knee.prior_authorization.required and "conservative care" in knee.prior_authorization.notes
    assert knee.plans == ("acme-ppo",) and echo.plans is None
    limit = echo.frequency_limits[0]
    assert (limit.count, limit.period, limit.unit) == (1, 12, "month")
    assert (knee.frequency_limits[0].count, knee.frequency_limits[0].unit) == (2, "lifetime")


def test_unknown_field_names_its_path_and_line(tmp_path: Path) -> None:
    with pytest.raises(PayerRulesError) as err:
        load(tmp_path, HEAD + "    prior_auth: true\n")
    assert (err.value.field, err.value.line) == ("policies[0].prior_auth", 10)
    assert err.value.file.endswith("payer.yaml")


def test_bad_code_shapes_name_each_item(tmp_path: Path) -> None:
    text = HEAD.replace('["93306"]', '["93306", "9330"]') + "    covered_diagnoses: [I50.9, 150.9]\n"
    with pytest.raises(PayerRulesError) as err:
        load(tmp_path, text)
    paths = [p for p, _, _ in err.value.problems]
    assert paths == ["policies[0].procedures[1]", "policies[0].covered_diagnoses[1]"]
    assert "'9330'" in str(err.value) and "'150.9'" in str(err.value)


def test_window_from_after_to_is_refused(tmp_path: Path) -> None:
    text = HEAD.replace("{from: 2024-01-01}", "{from: 2024-06-01, to: 2024-01-01}")
    with pytest.raises(PayerRulesError, match="after 'to'") as err:
        load(tmp_path, text)
    assert (err.value.field, err.value.line) == ("policies[0].effective", 8)


def test_backwards_range_and_bad_frequency_are_refused(tmp_path: Path) -> None:
    text = HEAD + "    covered_diagnoses: [I50.9-I50.1]\n    frequency_limits: [once a year]\n"
    with pytest.raises(PayerRulesError) as err:
        load(tmp_path, text)
    assert [p for p, _, _ in err.value.problems] == [
        "policies[0].covered_diagnoses[0]", "policies[0].frequency_limits[0]"
    ]


def test_unknown_plan_and_repeated_policy_id_are_named(tmp_path: Path) -> None:
    policy = HEAD.split("policies:\n", 1)[1]
    text = HEAD + policy.replace("    title: Echo\n", "    title: Echo\n    plans: [p9]\n")
    with pytest.raises(PayerRulesError) as err:
        load(tmp_path, text)
    assert [p for p, _, _ in err.value.problems] == ["policies[1].id", "policies[1].plans[0]"]


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(PayerRulesError, match="valid YAML") as err:
        load(tmp_path, HEAD + "    notes: [unclosed\n    title: x\n")
    assert err.value.line == 11


def test_duplicate_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PayerRulesError, match="repeated") as err:
        load(tmp_path, HEAD + "    title: Again\n")
    assert (err.value.field, err.value.line) == ("policies[0].title", 10)
