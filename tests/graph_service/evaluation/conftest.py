"""The evaluation tests' graph, loaded once per module that asks for it."""

from __future__ import annotations

import pytest
from neo4j import Driver

from codegraph.settings import Settings
from tests.graph_service.evaluation.graph_data import load_evaluation_graph


@pytest.fixture(scope="module")
def evaluation_graph(driver: Driver, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Driver:
    load_evaluation_graph(driver, settings, tmp_path_factory.mktemp("evaluation"))
    return driver
