"""Fixtures for the marketplace tests: one embedded chain with the test-only model contracts
deployed, and an int8 model with a data contract compiled, once per session."""

from __future__ import annotations

import pytest

from ml2sc.compiler.driver import CompiledModel
from tests.market.scenarios import Env, compile_test_models, int8_rule_model


@pytest.fixture(scope="session")
def env() -> Env:
    from ml2sc.chain import EmbeddedChain

    return Env.deploy(EmbeddedChain(), compile_test_models())


@pytest.fixture(scope="session")
def int8_rule() -> CompiledModel:
    return int8_rule_model()
