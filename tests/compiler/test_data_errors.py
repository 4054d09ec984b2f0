"""Bad data, options and reverts as a user meets them: one line, exit 2, nothing deployed or sent.

Issue 14, items 1 and 2: every data file problem (.npy/.npz/.csv missing, truncated, empty,
non-numeric, NaN/Inf, wrong width or rank, out of the contract's input range) is refused
before the chain is opened, the model is checked before the data, and a revert that does
reach the chain is decoded with the contract's ABI (``InputLength(expected=30, got=60)``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from eth_abi import encode
from onnx import TensorProto, helper

from ml2sc.compiler import cli
from ml2sc.compiler.data import check_range, check_rows, read_array
from ml2sc.ir.errors import Ml2scError

N_IN = 30


def mlp_onnx(path: Path, n_in: int = N_IN, scale: float = 1.0) -> Path:
    """A 30-4-1 sigmoid MLP built with onnx.helper (no framework, no training)."""
    rng = np.random.default_rng(0)
    w1 = helper.make_tensor("w1", TensorProto.FLOAT, [n_in, 4], (scale * rng.normal(0, 0.3, (n_in, 4))).ravel().tolist())
    b1 = helper.make_tensor("b1", TensorProto.FLOAT, [4], rng.normal(0, 0.1, 4).tolist())
    w2 = helper.make_tensor("w2", TensorProto.FLOAT, [4, 1], rng.normal(0, 0.5, 4).tolist())
    b2 = helper.make_tensor("b2", TensorProto.FLOAT, [1], [0.1])
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], name="fc1"), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Gemm", ["r", "w2", "b2"], ["z"], name="fc2"), helper.make_node("Sigmoid", ["z"], ["y"])]
    g = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", n_in])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])], [w1, b1, w2, b2])
    onnx.save_model(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return path


def conv_onnx(path: Path) -> Path:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 3, 3])
    w = helper.make_tensor("w", TensorProto.FLOAT, [1, 1, 2, 2], [1.0] * 4)
    g = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"], name="conv1")], "g", [x], [y], [w])
    onnx.save_model(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return path


def good_rows(n: int = 4) -> np.ndarray:
    return np.random.default_rng(1).uniform(0, 1, (n, N_IN)).astype(np.float32)


def _with(x: np.ndarray, r: int, c: int, v: float) -> np.ndarray:
    x = x.astype(np.float64)
    x[r, c] = v
    return x


def write_bad_files(d: Path) -> dict[str, tuple[Path, tuple[str, ...]]]:
    """name -> (file, substrings the one-line error must contain)."""
    x = good_rows()
    cases: dict[str, tuple[Path, tuple[str, ...]]] = {}

    def npy(name: str, arr: np.ndarray, *needles: str, pickle: bool = False) -> None:
        np.save(d / f"{name}.npy", arr, allow_pickle=pickle)
        cases[name] = (d / f"{name}.npy", (f"{name}.npy", *needles))

    def raw(name: str, data: bytes | str, *needles: str) -> None:
        path = d / name
        path.write_bytes(data) if isinstance(data, bytes) else path.write_text(data)
        cases[name] = (path, (name, *needles))

    npy("nan", _with(x, 2, 7, np.nan), "row 2, column 7", "nan")
    npy("inf", _with(x, 1, 3, -np.inf), "row 1, column 3", "-inf")
    npy("empty", np.zeros((0, N_IN), np.float32), "no rows")
    npy("strings", np.array([["a"] * N_IN]), "strings")
    npy("objects", np.array([[1.0, "a"]], dtype=object), "Python objects", pickle=True)
    npy("wide", np.hstack([x, x]), "60 features", "takes 30")
    npy("rank3", x.reshape(4, 5, 6), "(4, 5, 6)", "(rows, 30)")
    npy("scalar", np.float32(1.0), "single number")
    npy("huge", _with(x, 3, 5, 1e30), "row 3, column 5", "input range")
    npy("float64", _with(x, 0, 9, 1e300), "row 0, column 9", "float32")
    good = d / "good.npy"
    np.save(good, x)
    raw("truncated.npy", good.read_bytes()[:150], "cannot read")
    raw("garbage.npy", b"not numpy at all" * 8, "not a NumPy")
    np.savez(d / "two.npz", a=x, b=x)
    cases["two.npz"] = (d / "two.npz", ("two.npz", "2 arrays"))
    np.savez(d / "one.npz", a=x)
    raw("cut.npz", (d / "one.npz").read_bytes()[:100], "cannot read")
    body = "\n".join(",".join(f"{v:.4f}" for v in row) for row in x)
    raw("word.csv", body.replace("0.", "abc", 1), "row 0, column 0", "'abc")
    raw("nan.csv", body + "\n" + ",".join(["1"] * 7 + ["nan"] + ["1"] * 22), "row 4, column 7", "nan")
    raw("ragged.csv", body + "\n1,2,3", "row 4 has 3 columns")
    raw("header.csv", "a,b\n", "no rows")
    cases["missing"] = (d / "missing.npy", ("missing.npy", "not found"))
    return cases


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    d = tmp_path_factory.mktemp("data")
    return mlp_onnx(d / "mlp.onnx"), conv_onnx(d / "cnn.onnx"), write_bad_files(d)


@pytest.fixture
def no_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opening a chain fails the test: every refusal must come before deployment."""
    def refuse(*a: object, **k: object) -> None:
        raise AssertionError("a chain was opened before the data was checked")

    monkeypatch.setattr(cli, "_open_chain", refuse)
    monkeypatch.setattr("ml2sc.chain.open_chain", refuse)


def assert_one_line(code: int, err: str, *needles: str) -> None:
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    for n in needles:
        assert n in lines[0], lines[0]


# ------------------------------------------------------------------- the checks themselves
def test_good_files_load(tmp_path: Path) -> None:
    x = good_rows()
    np.save(tmp_path / "x.npy", x)
    np.savez(tmp_path / "x.npz", rows=x)
    (tmp_path / "x.csv").write_text(",".join(f"f{i}" for i in range(N_IN)) + "\n" +
                                   "\n".join(",".join(repr(float(v)) for v in r) for r in x))
    for name in ("x.npy", "x.npz", "x.csv"):
        np.testing.assert_array_equal(check_rows(read_array(tmp_path / name), N_IN), x)
    assert check_rows(x[0], N_IN).shape == (1, N_IN)  # one row as a vector
    assert check_rows(x.reshape(4, 5, 6), N_IN, row_shape=(5, 6)).shape == (4, N_IN)  # the model's own row shape


@pytest.mark.parametrize("name", ["nan", "inf", "empty", "strings", "objects", "wide", "rank3", "scalar", "float64",
                                  "truncated.npy", "garbage.npy", "two.npz", "cut.npz", "word.csv", "nan.csv",
                                  "ragged.csv", "header.csv", "missing"])
def test_bad_file_is_one_line_error(files: tuple, name: str) -> None:
    path, needles = files[2][name]
    with pytest.raises(Ml2scError) as e:
        check_rows(read_array(path), N_IN, f"data file '{path.name}'")
    assert "\n" not in str(e.value)
    for n in needles:
        assert n in str(e.value), str(e.value)


def test_range_names_row_column_and_limit() -> None:
    x = np.array([[0.5, 3.0]], np.float32)
    check_range([[5 * 10**17, 3 * 10**18]], x, 62, 18)  # 2^62/1e18 = 4.6
    with pytest.raises(Ml2scError, match=r"row 0, column 1 is 3: .*2\^61/1e18 = 2\.30584.*InputOutOfRange"):
        check_range([[5 * 10**17, 3 * 10**18]], x, 61, 18)


def test_library_checks_rows_and_calibration(files: tuple) -> None:
    from ml2sc.compiler.driver import compile as compile_model

    compiled = compile_model(files[0])
    with pytest.raises(Ml2scError, match=r"input rows row 2, column 7 is nan"):
        compiled.simulate(_with(good_rows(), 2, 7, np.nan))
    with pytest.raises(Ml2scError, match="60 features per row, the model takes 30"):
        compiled.quantize(np.hstack([good_rows(), good_rows()]))
    with pytest.raises(Ml2scError, match=r"calibration rows row 1, column 3 is -inf"):
        compile_model(files[0], backend="int8", calibration=_with(good_rows(), 1, 3, -np.inf))
    with pytest.raises(Ml2scError, match=r"calibration file '.*wide.npy' has 60 features"):
        compile_model(files[0], backend="int8", calibration=str(files[2]["wide"][0]))


# ------------------------------------------------------------------- the CLI, before any chain
@pytest.mark.parametrize("command", ["run", "validate"])
@pytest.mark.parametrize("backend", ["prbmath", "int8"])
def test_cli_bad_data_exits_2_before_deployment(files: tuple, command: str, backend: str, no_chain: None,
                                                capsys: pytest.CaptureFixture) -> None:
    model, _, cases = files
    for path, needles in cases.values():
        # int8 run/validate calibrate on --data: a 1e30 is outside the contract's input range there too
        code = cli.main([command, str(model), "--backend", backend, "--data", str(path)])
        assert_one_line(code, capsys.readouterr().err, *needles)


def test_calibration_outside_the_input_range_names_row_and_column(files: tuple, no_chain: None,
                                                                   capsys: pytest.CaptureFixture) -> None:
    """A 1e30 in the calibration rows: before, "requantization multiplier 5.12e+26 is too large";
    now one line naming the file, row, column and the contract's input range."""
    model, _, cases = files
    huge = cases["huge"][0]
    for args in (["compile", str(model), "-b", "int8", "--calibration", str(huge), "-o", str(huge.parent / "out")],
                 ["run", str(model), "-b", "int8", "--data", str(huge)],
                 ["estimate", str(model), "-b", "int8", "--calibration", str(huge)]):
        what = "calibration" if "--calibration" in args else "data"
        assert_one_line(cli.main(args), capsys.readouterr().err, f"{what} file '{huge}' row 3, column 5 is 1e+30",
                        "input range |x| < 2^127/1e18 = 1.7e+20")
    assert not (huge.parent / "out").exists()


def test_calibration_outlier_is_named_when_quantization_fails(files: tuple, tmp_path: Path, no_chain: None,
                                                              capsys: pytest.CaptureFixture) -> None:
    """A 1e12 is inside the input range, but one such outlier stretches a quantization range until
    the quantizer fails; its message then names the outlier (a clean file gets no such hint)."""
    from ml2sc.compiler.data import outlier

    model, _, _ = files
    x = good_rows(32)
    assert outlier(x) is None
    np.save(tmp_path / "outlier.npy", _with(x, 5, 2, 1e12))
    code = cli.main(["compile", str(model), "-b", "int8", "--calibration", str(tmp_path / "outlier.npy"),
                     "-o", str(tmp_path / "out")])
    assert_one_line(code, capsys.readouterr().err, "int8: ", f"likely cause: calibration file '{tmp_path / 'outlier.npy'}'"
                    " row 5, column 2 is 1e+12", "drop or clip it")
    sparse = np.zeros((32, 3))
    sparse[::8, 1] = [1.0, 2.0, 3.0, 4.0]
    assert outlier(sparse) is None  # mostly zeros: the typical deviation is the nonzero ones'


def test_cli_estimate_ir_and_calibration_option(files: tuple, no_chain: None, capsys: pytest.CaptureFixture) -> None:
    model, _, cases = files
    for name in ("nan", "wide", "strings", "word.csv"):
        path, needles = cases[name]
        assert_one_line(cli.main(["estimate", str(model), "--data", str(path)]), capsys.readouterr().err, *needles)
        assert_one_line(cli.main(["estimate", str(model), "-b", "int8", "--calibration", str(path)]),
                        capsys.readouterr().err, "calibration file", *needles[1:])
        assert_one_line(cli.main(["ir", str(model), "-b", "int8", "--calibration", str(path)]),
                        capsys.readouterr().err, "calibration file", *needles[1:])
    good = cases["nan"][0].parent / "good.npy"
    assert_one_line(cli.main(["run", str(model), "-b", "int8", "--data", str(good), "--calibration",
                              str(cases["empty"][0])]), capsys.readouterr().err, "calibration file", "no rows")


def test_cli_model_is_checked_before_the_data(files: tuple, tmp_path: Path, no_chain: None,
                                              capsys: pytest.CaptureFixture) -> None:
    np.save(tmp_path / "images.npy", np.zeros((2, 1, 4, 4), np.float32))
    for command in ("run", "validate", "estimate"):
        for backend in ("prbmath", "int8"):
            code = cli.main([command, str(files[1]), "-b", backend, "--data", str(tmp_path / "images.npy")])
            assert_one_line(code, capsys.readouterr().err, "'Conv'", "conv1")


def test_cli_market_data_errors(files: tuple, no_chain: None, capsys: pytest.CaptureFixture) -> None:
    cases = files[2]
    labels = cases["nan"][0].parent / "labels.npy"
    np.save(labels, np.zeros(4, np.int64))
    for name in ("nan", "strings", "empty", "garbage.npy", "word.csv", "missing"):
        path, needles = cases[name]
        code = cli.main(["market", "create", "--data", str(path), "--labels", str(labels), "--reward", "1"])
        assert_one_line(code, capsys.readouterr().err, *needles)
    code = cli.main(["market", "create", "--data", str(cases["nan"][0].parent / "good.npy"), "--labels",
                     str(cases["nan"][0]), "--reward", "1"])
    assert_one_line(code, capsys.readouterr().err, "labels file", "nan")


def test_cli_subprocess_one_line_no_traceback(files: tuple) -> None:
    """The installed entry points, as a user runs them: stderr is exactly one line, exit 2."""
    model, _, cases = files
    for name in ("huge",):  # one process start costs ~4 s; the in-process tests cover the rest
        path, needles = cases[name]
        proc = subprocess.run([sys.executable, "-m", "ml2sc.compiler.cli", "run", str(model), "--data", str(path)],
                              capture_output=True, text=True)
        assert_one_line(proc.returncode, proc.stderr, *needles)
        assert proc.stdout == ""


# ------------------------------------------------------------------- reverts, decoded with the ABI
@pytest.fixture(scope="module")
def deployed(files: tuple):  # noqa: ANN201
    from ml2sc.chain import EmbeddedChain
    from ml2sc.compiler.driver import compile as compile_model

    return compile_model(files[0]).deploy(EmbeddedChain(), progress=False)


@pytest.mark.evm
def test_revert_decoded_with_the_contract_abi(deployed) -> None:  # noqa: ANN001
    from ml2sc.backends.common.naming import selector
    from ml2sc.chain import Reverted, describe_revert

    bits = int(deployed.compiled.program.metadata["input_bits"])
    predict = selector("predict(int256[])")
    with pytest.raises(Reverted) as e:  # bypass every Python-side check: raw calldata to the contract
        deployed.chain.transact(deployed.address, predict + encode(["int256[]"], [[1] * 60]))
    abi = deployed.compiled.artifact.abi
    assert describe_revert(e.value.data, abi) == "InputLength(expected=30, got=60)"
    assert str(deployed.compiled.explain(e.value, "predict")) == "predict reverted: InputLength(expected=30, got=60)"
    with pytest.raises(Reverted) as e:
        deployed.chain.transact(deployed.address, predict + encode(["int256[]"], [[0, 0, 2**bits] + [0] * 27]))
    assert describe_revert(e.value.data, abi) == f"InputOutOfRange(index=2, value={2**bits})"
    assert describe_revert(b"\xde\xad\xbe\xef\x01", abi) == "0xdeadbeef01"  # unknown selector: hex
    assert "Revert(b'" not in str(e.value)  # even undecoded, the chain reports hex, not bytes reprs

    # the driver's own entry points decode too (predict_raw sends what it is given)
    with pytest.raises(Reverted, match=r"\.predict reverted: InputLength\(expected=30, got=31\)$"):
        deployed.predict_raw([[0] * 31], packed=False)
    with pytest.raises(Reverted, match=r"\.predict reverted: InputOutOfRange\(index=0, value=-"):
        deployed.predict_raw([[-(2**bits) - 1] + [0] * 29], packed=False)
    with pytest.raises(Reverted, match=r"\.predictPacked reverted: InputLength\(expected=\d+, got=\d+\)$"):
        deployed.predict_raw([[0] * 40])


@pytest.mark.evm
def test_cli_revert_on_chain_is_decoded(files: tuple, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture) -> None:
    """``verify post`` against a model given by its address cannot know the width: the model
    reverts on chain, and the CLI names the error and its arguments in one line."""
    from ml2sc.chain import EmbeddedChain

    chain = EmbeddedChain()
    monkeypatch.setattr("ml2sc.chain.open_chain", lambda *a, **k: chain)
    state = str(tmp_path / "v.json")
    assert cli.main(["verify", "create", "--model", str(files[0]), "--state", state]) == 0
    capsys.readouterr()
    code = cli.main(["verify", "post", "--data", str(files[2]["wide"][0]), "--state", state])
    assert_one_line(code, capsys.readouterr().err, "classify reverted: InputLength(expected=30, got=60)")
