"""Both compiler paths: solcjs from node_modules, and a native solc through py-solc-x."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ml2sc.compiler import solc

SOURCE = """// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;
import { FixedMath } from "ml2sc/FixedMath.sol";
contract T { function f(int256 x) external pure returns (int256) { return FixedMath.sigmoid(x); } }
"""


def fake_native_solc(tmp_path: Path) -> Path:
    """A 'native' solc of the pinned version that is really solcjs: proves the py-solc-x path end to end."""
    exe = tmp_path / "solc"
    script = Path(solc.__file__).with_name("solcjs_compile.js")
    exe.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = "--version" ]; then echo "solc, the solidity compiler"; echo "Version: {solc.SOLC_VERSION}+commit.fake"; exit 0; fi\n'
        f'exec node "{script}" "{solc.node_modules_dir()}"\n'
    )
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return exe


def test_native_and_solcjs_give_the_same_bytecode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache-js"))
    monkeypatch.setenv("ML2SC_SOLC", str(tmp_path / "missing-solc"))
    via_js = solc.compile_solidity({"T.sol": SOURCE})["T"]
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache-native"))
    monkeypatch.setenv("ML2SC_SOLC", str(fake_native_solc(tmp_path)))
    assert solc._native_solc() == os.environ["ML2SC_SOLC"]
    via_native = solc.compile_solidity({"T.sol": SOURCE})["T"]
    assert via_native.runtime_bytecode == via_js.runtime_bytecode and via_native.abi == via_js.abi


def test_wrong_native_version_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exe = tmp_path / "solc"
    exe.write_text('#!/bin/sh\necho "Version: 0.8.19+commit.x"\n')
    exe.chmod(0o755)
    monkeypatch.setenv("ML2SC_SOLC", str(exe))
    assert solc._native_solc() is None


def test_compile_error_is_one_line() -> None:
    with pytest.raises(solc.SolcError) as e:
        solc.compile_solidity({"Bad.sol": "pragma solidity 0.8.30; contract B { function f( }"})
    assert "\n" not in str(e.value) and "Bad.sol" in str(e.value)
