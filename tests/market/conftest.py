"""Fixtures for the marketplace tests: one embedded chain, the test-only model contracts and
two small prbmath models, deployed once per session."""

from __future__ import annotations

import pytest

from tests.market.scenarios import Env, compile_test_models


@pytest.fixture(scope="session")
def env() -> Env:
    from ml2sc.chain import EmbeddedChain

    return Env.deploy(EmbeddedChain(), compile_test_models())
