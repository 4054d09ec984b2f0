"""Command line: ``ml2sc-compile`` and ``ml2sc <subcommand>``.

Every user error (an ``Ml2scError``, a missing or unreadable file) becomes one
line on stderr and exit code 2; no traceback reaches the user.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ml2sc.ir.errors import Ml2scError

EXIT_USAGE = 2
EXIT_INVALID = 1


def _console():  # noqa: ANN202 - rich is imported lazily to keep --help fast
    from rich.console import Console

    return Console(stderr=False)


def _compile(args: argparse.Namespace):  # noqa: ANN202
    """The model first (import, pipeline, emission), its calibration rows checked against it."""
    from ml2sc.compiler.driver import compile as compile_model

    if not Path(args.model).exists():
        raise Ml2scError(f"model file '{args.model}' not found")
    calibration = getattr(args, "calibration", None)
    what = "calibration" if calibration else "data"
    calibration = calibration or getattr(args, "data", None)  # run/validate: the --data rows
    return compile_model(args.model, backend=args.backend, pipeline=args.pipeline, calibration=calibration,
                         calibration_name=what, accept_loss=getattr(args, "accept_loss", False))


def _data_rows(args: argparse.Namespace, compiled) -> tuple[np.ndarray, list[list[int]]]:  # noqa: ANN001
    """--data read and checked against the compiled model: its float rows and the contract's integers.
    Every check (format, numbers, width, finiteness, the contract's input range) runs before deployment."""
    from ml2sc.compiler.data import check_rows, describe, onnx_row_shape, read_array

    source = describe(args.data)
    x = check_rows(read_array(args.data), compiled.program.n_inputs, source, onnx_row_shape(compiled.onnx_model))
    return x, compiled.quantize(x, source)


def _open_chain(args: argparse.Namespace):  # noqa: ANN202 - a Chain
    from ml2sc.chain import open_chain

    return open_chain(args.chain, rpc_url=args.rpc_url, key_env=args.key_env, keystore=args.keystore)


def _progress(total: int, label: str) -> Callable:
    from tqdm import tqdm

    return lambda it: tqdm(it, total=total, desc=label, unit="row", disable=total < 20 or None, file=sys.stderr)


def cmd_compile(args: argparse.Namespace) -> int:
    compiled = _compile(args)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    name = compiled.program.contract_name
    (out / f"{name}.sol").write_text(compiled.solidity)
    (out / f"{name}.mlir").write_text(compiled.ir_text)
    artifact = compiled.artifact.to_json() | {
        "ml2sc": {
            "backend": args.backend,
            "inputs": compiled.program.n_inputs,
            "input_decimals": compiled.program.input_decimals,
            "packed_input_bytes": compiled.program.packed_input_bytes,
            "outputs": [s.__dict__ for s in compiled.program.outputs],
        }
    }
    if compiled.program.data_contracts:  # deploy these first; then link their addresses or pass them
        from ml2sc.backends.common.link import placeholder
        from ml2sc.compiler.driver import data_initcode, takes_addresses

        linked = not takes_addresses(compiled.artifact)
        artifact["ml2sc"]["data_contracts"] = [
            {"runtime": "0x" + code.hex(), "initcode": "0x" + data_initcode(code).hex()}
            | ({"link": "0x" + placeholder(k).hex()} if linked else {})
            for k, code in enumerate(compiled.program.data_contracts)
        ]
        artifact["ml2sc"]["data_contracts_how"] = (
            "deploy each initcode, then replace every 7f<link> in the model's bytecode with 7f<its address, "
            "left-padded to 32 bytes>" if linked else
            "deploy each initcode, then the model's bytecode followed by abi.encode(address[] addresses)")
    (out / f"{name}.json").write_text(json.dumps(artifact, indent=2, default=list))
    print(f"wrote {out / name}.sol, .json (runtime {compiled.artifact.runtime_size} bytes), .mlir")
    _write_tool_files(compiled, out)
    for key, value in _decisions(compiled).items():
        if not key.endswith("_why"):
            print(f"{key}: {value} ({_decisions(compiled).get(key + '_why', '')})")
    if compiled.agreement is not None:
        from ml2sc.compiler.agreement import MIN_AGREEMENT

        below = compiled.agreement < MIN_AGREEMENT
        print(f"calibration agreement: {compiled.agreement:.1%} of the calibration rows decide as the float model"
              + (f" ({MIN_AGREEMENT - compiled.agreement:.1%} below the {MIN_AGREEMENT:.0%} threshold, accepted by --accept-loss)"
                 if below else ""), file=sys.stderr if below else sys.stdout)
    return 0


def _write_tool_files(compiled, out: Path) -> None:  # noqa: ANN001
    """Foundry's artifact layout, the explorer-verification input and the consumer library."""
    from ml2sc.backends.common.naming import model_hash
    from ml2sc.compiler.artifacts import foundry_artifact, model_library, verification_input

    name = compiled.program.contract_name
    foundry = out / "foundry" / f"{name}.sol"  # out/<Name>.sol is the source file itself
    foundry.mkdir(parents=True, exist_ok=True)
    (foundry / f"{name}.json").write_text(json.dumps(foundry_artifact(compiled.artifact), indent=2))
    (out / f"{name}.standard-input.json").write_text(json.dumps(verification_input(compiled.program), indent=2))
    library = model_library(compiled.program, compiled.artifact.abi, model_hash(compiled.ir))
    (out / f"I{name}.sol").write_text(library)
    print(f"wrote {foundry / name}.json (Foundry layout), {out / name}.standard-input.json (solc input, for "
          f"explorer verification), {out}/I{name}.sol (interface and typed library for consumer contracts)")


def _decisions(compiled) -> dict[str, str]:  # noqa: ANN001
    """What the backend's passes decided and why (int8: weight placement and layout), for reports."""
    meta = compiled.program.metadata
    return {k: meta[k] for k in ("weights", "weights_why", "layout", "layout_why", "split", "split_why", "steps",
                                 "steps_why") if meta.get(k)}


def cmd_ir(args: argparse.Namespace) -> int:
    from ml2sc.compiler.driver import get_backend, load_onnx_ir
    from ml2sc.compiler.passes.manager import PassManager
    from ml2sc.ir.printer import print_module

    if not Path(args.model).exists():
        raise Ml2scError(f"model file '{args.model}' not found")
    module, _ = load_onnx_ir(args.model)
    pipeline = args.pipeline if args.pipeline is not None else ("" if args.float else get_backend(args.backend).pipeline)
    if pipeline:
        manager = PassManager.from_pipeline(pipeline)
        if args.calibration:  # int8: quantization ranges from these rows
            from ml2sc.compiler.driver import checked_calibration, with_calibration

            x = checked_calibration(args.calibration, module)
            manager.passes = [with_calibration(p, x) for p in manager.passes]
        module = manager.run(module)
    sys.stdout.write(print_module(module))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    compiled = _compile(args)
    _, rows = _data_rows(args, compiled)
    deployed = compiled.deploy(_open_chain(args), journal=args.journal)
    raw = [y for row in _progress(len(rows), "inference")(rows) for y in deployed.predict_raw([row], packed=not args.abi_input)]
    from ml2sc.compiler.driver import decode_outputs

    outputs = decode_outputs(compiled.program, raw)
    if args.out:
        np.savez(args.out, **outputs)
    report = deployed.gas.summary() | {"contract": compiled.program.contract_name, "backend": args.backend,
                                       "chain": deployed.chain.name, "rows": len(rows)} | _decisions(compiled)
    if compiled.agreement is not None:  # int8: decisions equal to the float model's, on the calibration rows
        report["calibration_agreement"] = round(compiled.agreement, 4)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print_gas(report)
        if args.out:
            print(f"wrote {args.out}: " + ", ".join(f"{k} {v.dtype}{list(v.shape)}" for k, v in outputs.items()))
    return 0


def _print_gas(report: dict) -> None:
    from rich.table import Table

    table = Table(title=f"{report['contract']}: gas ({report['backend']}, {report['chain']} chain)")
    table.add_column("")
    table.add_column("gas", justify="right")
    for item in report.get("deploy_gas_per_contract", []):
        table.add_row(f"  deploy {item['contract']}", f"{item['gas']:,}")
    labels = {
        "deploy_gas": "deployment, all contracts",
        "deploy_gas_max_transaction": "  largest deployment transaction",
        "runtime_bytes": "runtime code size (bytes)",
        "upload_gas": "weight upload after deployment",
        "upload_transactions": "  upload transactions",
        "inference_gas_mean": "inference, mean per transaction",
        "inference_gas_max": "inference, max per transaction",
        "inference_gas_beyond_base_max": "  max beyond the 21,000 base",
        "inference_exec_gas_max": "  max EVM execution only",
        "inferences": "inference transactions",
        "batch_gas": "predictBatch, all rows in one transaction",
        "batch_rows": "  rows in the batch",
    }
    for key, label in labels.items():
        if key in report:
            table.add_row(label, f"{report[key]:,}")
    _console().print(table)


def cmd_validate(args: argparse.Namespace) -> int:
    from ml2sc.tools.validate import validate

    if args.report:  # checked before the run, not after it
        _check_report_path(Path(args.report))
    compiled = _compile(args)
    x, _ = _data_rows(args, compiled)
    deployed = compiled.deploy(_open_chain(args), journal=args.journal)
    report = validate(compiled, x, deployed, atol=args.atol, rtol=args.rtol, progress=_progress(len(x), "validate"),
                      min_agreement=args.min_agreement)
    if args.report:  # failed validations too: that is when the page is most useful
        _write_validation_report(args, compiled, deployed, report, x)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        _print_validation(report, compiled.program.contract_name)
    return 0 if report.ok else EXIT_INVALID


def _write_validation_report(args: argparse.Namespace, compiled, deployed, report, x: np.ndarray) -> None:  # noqa: ANN001
    """--report: the HTML page, quoting the command exactly as typed so that it can be rerun."""
    import os
    import shlex

    from ml2sc.tools.report import write_report
    from ml2sc.tools.report_data import collect

    argv = _without_rpc_url(getattr(args, "argv", None) or sys.argv[1:])
    chain = "a JSON-RPC node" if args.rpc_url else args.chain
    data = collect(compiled, deployed, report, x, command=shlex.join(["ml2sc", *argv]), cwd=os.getcwd(), chain=chain,
                   atol=args.atol, rtol=args.rtol, min_agreement=args.min_agreement)
    write_report(args.report, data)
    print(f"wrote {args.report}", file=sys.stderr)


def _check_report_path(path: Path) -> None:
    if path.is_dir():
        raise Ml2scError(f"--report: '{path}' is a directory; give a file name such as {path / 'report.html'}")
    if not path.resolve().parent.is_dir():
        raise Ml2scError(f"--report: directory '{path.parent}' does not exist")


def _without_rpc_url(argv: Sequence[str]) -> list[str]:
    """The command with --rpc-url's value replaced: node URLs often carry an API key, and reports get shared."""
    out: list[str] = []
    for arg in argv:
        if out[-1:] == ["--rpc-url"]:
            arg = "<RPC_URL>"
        elif arg.startswith("--rpc-url="):
            arg = "--rpc-url=<RPC_URL>"
        out.append(arg)
    return out


def _print_validation(report, contract: str) -> None:  # noqa: ANN001
    from rich.table import Table

    table = Table(title=f"{contract}: {report.rows} rows, chain vs simulator and vs onnxruntime ({report.precision})")
    for col in ("output", "kind", "max abs error", "max rel error", "agreement", "ok"):
        table.add_column(col)
    table.add_row("(all)", "EVM == simulator", "", "", f"{report.evm_equals_simulator}/{report.rows}",
                  "yes" if report.evm_equals_simulator == report.rows else "NO")
    if report.calibration_agreement is not None:  # int8: compile's check on the calibration (--data) rows
        from ml2sc.compiler.agreement import MIN_AGREEMENT

        low = report.calibration_agreement < MIN_AGREEMENT
        table.add_row("calibration", "int8 vs float model", "", "", f"{100 * report.calibration_agreement:.2f}%",
                      "accepted loss" if low else "yes")
    for o in report.outputs:
        table.add_row(o.name, o.kind, "" if o.max_abs_error is None else f"{o.max_abs_error:.3g}",
                      "" if o.max_rel_error is None else f"{o.max_rel_error:.3g}",
                      "" if o.agreement is None else f"{100 * o.agreement:.2f}%", "yes" if o.ok else "NO")
    _console().print(table)
    print(json.dumps(report.gas))


def cmd_bench(args: argparse.Namespace) -> int:
    from ml2sc.tools.bench import installed_backends, run_bench

    backends = args.backends.split(",") if args.backends else installed_backends()
    results = run_bench(Path(args.out), backends, progress=lambda jobs: _progress_jobs(jobs), include_mnist=not args.no_mnist,
                        baseline_all=args.baseline_all, include_large=not args.no_large)
    failed = [r for r in results if r.error]
    print(f"wrote {args.out}/benchmarks.md and benchmarks.png: {len(results)} runs ({len(failed)} not compiled)")
    return 0


def cmd_estimate(args: argparse.Namespace) -> int:
    from ml2sc.compiler.data import check_rows, describe, onnx_row_shape, read_array
    from ml2sc.compiler.driver import checked_calibration, load_onnx_ir
    from ml2sc.tools.estimate import estimate_command

    if not Path(args.model).exists():
        raise Ml2scError(f"model file '{args.model}' not found")
    module, proto = load_onnx_ir(args.model)  # the model first, then the data against it
    data = None
    if args.data:
        data = check_rows(read_array(args.data), module.inputs[0].type.size, describe(args.data), onnx_row_shape(proto))
    calibration = checked_calibration(args.calibration, module, proto) if args.calibration else data
    return estimate_command(args, data, calibration)


def _progress_jobs(jobs: list) -> object:
    from tqdm import tqdm

    return tqdm(jobs, desc="bench", unit="run", file=sys.stderr)


def cmd_deploy(args: argparse.Namespace) -> int:
    """Deploy once: the record (``deployments/<chain id>/<Name>.json``) makes a rerun deploy nothing."""
    from ml2sc.compiler.deployments import deploy_model

    compiled = _compile(args)
    chain = _open_chain(args)
    if chain.name != "rpc":
        print(f"note: the {chain.name} chain ends with this command; use --rpc-url for a record worth keeping",
              file=sys.stderr)
    result = deploy_model(compiled, chain, args.deployments, args.name, source=args.model, pipeline=args.pipeline)
    record = result.record
    summary = {"record": str(result.path), "deployed": result.deployed, "name": record["name"],
               "address": record["address"], "chain_id": record["chainId"], "contracts": len(record["contracts"]),
               "deploy_gas": record["gas"]["deploy"], "model_hash": record["modelHash"], "code_hash": record["codeHash"]}
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    if result.note:
        print(result.note)
    verb = "deployed" if result.deployed else "already deployed (its record found, code hash checked; nothing sent)"
    print(f"{record['name']} {verb} at {record['address']} on chain {record['chainId']}: {len(record['contracts'])} "
          f"contract(s), {record['gas']['deploy']:,} deploy gas; record {result.path}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    """A deployed model on --data: eth_call per row (default) or a transaction per row (--send)."""
    from ml2sc.compiler.data import describe, read_array
    from ml2sc.compiler.deployments import attach, rpc_chain
    from ml2sc.compiler.driver import decode_outputs

    chain = _open_chain(args) if args.send else rpc_chain(args.rpc_url, args.key_env, args.keystore)
    model = attach(args.deployment, chain=chain, directory=args.deployments)
    rows = model.compiled.quantize(read_array(args.data), describe(args.data))
    infer = model.predict_raw if args.send else model.call_raw
    raw = [y for row in _progress(len(rows), "inference")(rows) for y in infer([row], packed=not args.abi_input)]
    outputs = decode_outputs(model.compiled.program, raw)
    if args.out:
        np.savez(args.out, **outputs)
    report = {"address": model.address, "chain_id": chain.chain_id, "rows": len(rows),  # type: ignore[attr-defined]
              "mode": "send" if args.send else "call", "code_hash_checked": True}
    if args.send:
        report |= {k: v for k, v in model.gas.summary().items() if k.startswith("inference")}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    how = "transactions" if args.send else "eth_call, no gas"
    print(f"{len(rows)} rows through {model.compiled.program.contract_name} at {model.address} ({how}; code hash checked)")
    if args.send:
        print(f"inference gas: mean {report['inference_gas_mean']:,}, max {report['inference_gas_max']:,}")
    if args.out:
        print(f"wrote {args.out}: " + ", ".join(f"{k} {v.dtype}{list(v.shape)}" for k, v in outputs.items()))
    return 0


def cmd_opt(args: argparse.Namespace) -> int:
    from ml2sc.compiler.opt import opt_command

    return opt_command(args)


def cmd_passes(args: argparse.Namespace) -> int:
    from ml2sc.compiler.registry import passes

    for name in passes.names():
        doc = (passes.get(name).__doc__ or "").strip().splitlines()
        print(f"{name:18} {doc[0] if doc else ''}")
    return 0


def cmd_backends(args: argparse.Namespace) -> int:
    from ml2sc.compiler.registry import backends

    for name in backends.names():
        b = backends.get(name)
        print(f"{name:10} {b.description}\n{'':10} pipeline: {b.pipeline}")
    return 0


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="the model: .onnx, or a framework's file (.keras/.h5, torch.save'd .pt/.pth, sklearn .pkl/.joblib)")
    p.add_argument("--backend", "-b", default="prbmath", help="code generator (see 'ml2sc backends'); default prbmath")
    p.add_argument("--pipeline", help="override the backend's pass pipeline, e.g. 'canonicalize,quantize-fixed'")
    p.add_argument("--calibration", metavar="X.npy",
                   help="rows that quantizing backends (int8) choose ranges from; run/validate default to --data")
    p.add_argument("--accept-loss", action="store_true",
                   help="int8: compile even when the quantized model agrees with the float model on fewer than "
                        "95%% of the calibration rows")
    p.add_argument("--layout", choices=["swar", "dense", "auto"],
                   help="int8 weight layout: swar (pre-spread words, cheapest per inference; the default), dense "
                        "(one byte a weight, cheapest to deploy) or auto (from --calls)")
    p.add_argument("--calls", type=int, metavar="N",
                   help="int8, --layout auto: the inferences the model is expected to serve (default 1000)")
    p.add_argument("--weights", choices=["auto", "data", "inline"],
                   help="int8, swar layout: the weight words in data contracts (data) or as PUSH32 immediates in "
                        "code (inline: in the model, or in tile contracts for models over EIP-170; ~20%% cheaper "
                        "inferences, ~10%% dearer deployment). auto (the default): inline for small models")


def _chain_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="inputs: .npy, .npz (one array) or .csv of shape (rows, features)")
    p.add_argument("--chain", default="embedded", choices=["embedded", "anvil"],
                   help="embedded: py-evm in process (default); anvil: a local anvil that ml2sc starts and stops")
    p.add_argument("--rpc-url", help="use any JSON-RPC node instead (key from --key-env or --keystore)")
    p.add_argument("--key-env", default="ML2SC_PRIVATE_KEY", help="env var holding the hex private key (default ML2SC_PRIVATE_KEY)")
    p.add_argument("--keystore", help="encrypted keystore file (password from $ML2SC_KEYSTORE_PASSWORD or asked)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--journal", metavar="FILE",
                   help="record data-contract deployments here; a rerun after an interruption resumes, deploying nothing twice")


def _key_args(p: argparse.ArgumentParser) -> None:
    """The signing key for --rpc-url (deploy, predict --send)."""
    p.add_argument("--key-env", default="ML2SC_PRIVATE_KEY", help="env var holding the hex private key (default ML2SC_PRIVATE_KEY)")
    p.add_argument("--keystore", help="encrypted keystore file (password from $ML2SC_KEYSTORE_PASSWORD or asked)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ml2sc", description="Compile trained MLPs (ONNX, PyTorch, Keras, scikit-learn) into Ethereum smart contracts.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("compile", help="write the Solidity, the compiled artifact and the IR")
    _model_args(p)
    p.add_argument("-o", "--output", default="out", help="output directory (default: out)")
    p.set_defaults(func=cmd_compile)

    p = sub.add_parser("ir", help="print the IR (after the backend's pipeline unless --float)")
    _model_args(p)
    p.add_argument("--float", action="store_true", help="print the imported float IR, before any pass")
    p.set_defaults(func=cmd_ir)

    p = sub.add_parser("run", help="deploy and run every row on a chain; write outputs and report gas")
    _model_args(p)
    _chain_args(p)
    p.add_argument("--out", help="write outputs to this .npz (one array per ONNX output, onnxruntime's dtypes)")
    p.add_argument("--abi-input", action="store_true", help="send int256[] calldata instead of packed bytes")
    p.add_argument("--tx-gas-cap", type=int, metavar="N",
                   help="int8: the per-transaction gas cap (default 16,777,216, EIP-7825); an inference above it runs "
                        "as several transactions (begin + steps)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("validate", help="run on chain, compare with the simulator and onnxruntime; exit 1 outside tolerance")
    _model_args(p)
    _chain_args(p)
    p.add_argument("--atol", type=float, default=1e-6, help="absolute tolerance (default 1e-6)")
    p.add_argument("--rtol", type=float, default=1e-6, help="relative tolerance (default 1e-6)")
    p.add_argument("--min-agreement", type=float, default=0.99,
                   help="quantized backends (int8): least argmax/label agreement with onnxruntime (default 0.99)")
    p.add_argument("--report", metavar="PATH",
                   help="also write a self-contained HTML report: gas per contract and per layer, error histogram, "
                        "confusion matrix, deployment plan, the command")
    p.add_argument("--tx-gas-cap", type=int, metavar="N",
                   help="int8: the per-transaction gas cap (default 16,777,216, EIP-7825); an inference above it runs "
                        "as several transactions (begin + steps)")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("bench", help="ML2SC's benchmark, measured for every installed backend -> benchmarks.md + .png")
    p.add_argument("--out", default="docs", help="directory for benchmarks.md and benchmarks.png (default: docs)")
    p.add_argument("--backends", help="comma-separated backends (default: all installed)")
    p.add_argument("--no-mnist", action="store_true", help="skip the 784-128-10 model")
    p.add_argument("--no-large", action="store_true",
                   help="skip the large models (784-512-256-10 int8 in both layouts, prbmath over the size limit)")
    p.add_argument("--baseline-all", action="store_true",
                   help="run the ML2SC-style baseline on the digits and MNIST-sized models too (slow: ~20 min more)")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("estimate", help="the deployment plan and its gas for a fork: contracts, sizes, transactions, "
                                        "inference (counted with solc and an in-process EVM; no chain)")
    _model_args(p)
    p.add_argument("--data", metavar="X.npy",
                   help="input rows: run for inference and its calldata (default: 16 rows uniform in [0, 1))")
    p.add_argument("--batch-rows", type=int, default=50, help="rows of the predictBatch estimate (default 50; 0: none)")
    p.add_argument("--fork", default="prague", choices=["prague", "osaka", "glamsterdam"],
                   help="gas schedule: prague (measured, the default), osaka, glamsterdam (provisional values)")
    p.add_argument("--tx-gas-cap", type=int, metavar="N", dest="plan_tx_gas_cap",
                   help="per-transaction gas cap (EIP-7825; default 16,777,216); int8 also compiles for it, as run does")
    p.add_argument("--fitted", action="store_true",
                   help="the fitted model instead: no solc, no EVM, about a second, a few percent off")
    p.add_argument("--json", action="store_true", help="print the estimate as JSON")
    p.set_defaults(func=cmd_estimate)

    p = sub.add_parser("deploy", help="deploy a model once; write deployments/<chain id>/<Name>.json (a rerun deploys nothing)")
    _model_args(p)
    p.add_argument("--chain", default="embedded", choices=["embedded", "anvil"],
                   help="embedded or a throwaway anvil (both end with the command): to try things out")
    p.add_argument("--rpc-url", help="the node to deploy to (key from --key-env or --keystore)")
    _key_args(p)
    p.add_argument("--name", help="the deployment's name, its record's file name (default: the contract name)")
    p.add_argument("--deployments", default="deployments", metavar="DIR",
                   help="where records are kept: DIR/<chain id>/<name>.json (default: deployments)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=cmd_deploy)

    p = sub.add_parser("predict", help="call a deployed model on --data (its record or address); write outputs as run does")
    p.add_argument("deployment", metavar="DEPLOYMENT.json|ADDRESS",
                   help="a record written by 'ml2sc deploy', or the model's address (its record is looked up in --deployments)")
    p.add_argument("--data", required=True, help="inputs: .npy, .npz (one array) or .csv of shape (rows, features)")
    p.add_argument("--out", help="write outputs to this .npz (one array per ONNX output, onnxruntime's dtypes)")
    p.add_argument("--rpc-url", required=True, help="the node the model is deployed on")
    _key_args(p)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--call", action="store_true", help="eth_call per row: no transaction, no gas, no key (default)")
    mode.add_argument("--send", action="store_true", help="a transaction per row (needs a funded key); reports gas")
    p.add_argument("--deployments", default="deployments", metavar="DIR",
                   help="where to find the record of an ADDRESS (default: deployments)")
    p.add_argument("--abi-input", action="store_true", help="send int256[] calldata instead of packed bytes")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_predict, chain="embedded")

    from ml2sc.market.cli import register as register_market

    register_market(sub)  # ml2sc market ... / ml2sc verify ...

    p = sub.add_parser("opt", help="run passes on hand-written textual IR (.mlir) and print the result",
                       description="Parse and verify textual IR, run a pass pipeline on it (verifying after "
                                   "every pass) and print the resulting module. Without -p: the round trip.")
    p.add_argument("file", help="textual IR (.mlir), or - for stdin")
    p.add_argument("-p", "--pipeline", default="",
                   help="passes to run, e.g. 'canonicalize,quantize-fixed{decimals=18}' (see 'ml2sc passes')")
    p.add_argument("--print-ir-after-all", action="store_true", help="print the IR after every pass to stderr")
    p.add_argument("-o", "--output", help="write the result here instead of stdout")
    p.set_defaults(func=cmd_opt)

    sub.add_parser("passes", help="list the installed passes").set_defaults(func=cmd_passes)
    sub.add_parser("backends", help="list the installed backends").set_defaults(func=cmd_backends)
    return parser


def _guarded(run: Callable[[], int]) -> int:
    try:
        return run()
    except Ml2scError as e:
        print(f"ml2sc: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("ml2sc: interrupted", file=sys.stderr)
        return 130


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # as typed: reports quote the command that reproduces them
    return _guarded(lambda: args.func(_with_layout(args)))


def _with_layout(args: argparse.Namespace) -> argparse.Namespace:
    """--layout/--weights/--calls/--tx-gas-cap become options of the pipeline's place-weights pass (the int8 decisions)."""
    layout, calls, cap = getattr(args, "layout", None), getattr(args, "calls", None), getattr(args, "tx_gas_cap", None)
    weights = getattr(args, "weights", None)
    if layout is None and calls is None and cap is None and weights is None:
        return args
    from ml2sc.compiler.driver import get_backend

    pipeline = args.pipeline if args.pipeline is not None else get_backend(args.backend).pipeline
    if "place-weights" not in pipeline:
        raise Ml2scError(f"--layout/--weights/--calls/--tx-gas-cap are int8 decisions; the pipeline of '{args.backend}' "
                         "has no place-weights pass")
    options = ",".join(f"{k}={v}" for k, v in (("layout", layout), ("weights", weights), ("calls", calls),
                                               ("tx_gas_cap", cap)) if v is not None)
    before, _, after = pipeline.partition("place-weights")
    if after.startswith("{"):  # merge with the options already given
        existing, _, after = after[1:].partition("}")
        options = f"{existing},{options}" if existing else options
    args.pipeline = f"{before}place-weights{{{options}}}{after}"
    return args


def compile_main(argv: Sequence[str] | None = None) -> int:
    """``ml2sc-compile model.onnx --backend prbmath [-o OUT]``: the compile subcommand on its own."""
    argv = list(sys.argv[1:] if argv is None else argv)
    return main(["compile", *argv])


if __name__ == "__main__":
    sys.exit(main())
