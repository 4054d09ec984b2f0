"""Shared fixtures: small hand-built float modules and one embedded chain per worker."""

from __future__ import annotations

import numpy as np
import pytest

from ml2sc.ir import ops
from ml2sc.ir.module import Constant, Module, Output, Value
from ml2sc.ir.types import F32, TensorType, vector


def f32_constant(name: str, values: np.ndarray) -> Constant:
    arr = np.asarray(values, dtype=np.float32)
    return Constant(name, TensorType(tuple(arr.shape), F32), tuple(float(v) for v in arr.ravel()))


def mlp_module(sizes: list[int], activations: list[str], seed: int = 0, name: str = "mlp") -> Module:
    """A float MLP: gemm layers of the given sizes, each followed by the named activation ('' for none)."""
    rng = np.random.default_rng(seed)
    x = Value("x", vector(sizes[0]))
    value, ops_, consts = x, [], []
    acts = {"relu": ops.Relu, "sigmoid": ops.Sigmoid, "tanh": ops.Tanh, "softmax": ops.Softmax,
            "leaky_relu": ops.LeakyRelu, "hard_sigmoid": ops.HardSigmoid}
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:], strict=False)):
        consts += [f32_constant(f"w{i}", rng.normal(0, 1 / np.sqrt(n_in), (n_out, n_in))),
                   f32_constant(f"b{i}", rng.normal(0, 0.1, n_out))]
        out = Value(f"{len(ops_)}", vector(n_out))
        ops_.append(ops.Gemm(out, value, f"w{i}", f"b{i}"))
        value = out
        if activations[i]:
            out = Value(f"{len(ops_)}", vector(n_out))
            ops_.append(acts[activations[i]](out, value))
            value = out
    return Module(name, (x,), tuple(ops_), (Output("y", value),), tuple(consts))


@pytest.fixture
def mlp() -> Module:
    return mlp_module([6, 4, 3], ["relu", "softmax"])


@pytest.fixture(scope="session")
def chain():  # noqa: ANN201 - an EmbeddedChain
    from ml2sc.chain import EmbeddedChain

    return EmbeddedChain()


@pytest.fixture
def fresh_chain():  # noqa: ANN201 - an EmbeddedChain
    """A chain of its own: addresses (and so the gas of code that embeds them) do not depend on
    which tests ran before. For exact-gas pins of contracts that hold data-contract addresses."""
    from ml2sc.chain import EmbeddedChain

    return EmbeddedChain()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite golden files (tests/filecheck/*.expected, ...) instead of comparing")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True under ``pytest --update-golden``: golden tests write their files instead of comparing."""
    return bool(request.config.getoption("--update-golden"))
