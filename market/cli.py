"""``ml2sc market ...`` and ``ml2sc verify ...``: the marketplace from the command line.

Each command is one process, so the contracts' addresses travel in a JSON state
file (``--state``), the organiser's test set and salt in a separate secret file
(``--secret``, written with mode 0600: whoever reads it before the reveal knows the
test set), and each submitter's entry and salt in its own (``--entry``, 0600) from
``submit`` (the commitment) to ``reveal-entry``. The embedded chain lives only as long as one process: use these commands
against a node that persists (``--rpc-url``, e.g. an ``anvil`` you started), where
``ml2sc market warp`` moves a dev chain's clock past a deadline.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ml2sc.ir.errors import Ml2scError


# --------------------------------------------------------------------------- shared plumbing
def _chain(args: argparse.Namespace) -> Any:  # a PartyChain
    from ml2sc.chain import open_chain

    chain = open_chain(args.chain, rpc_url=args.rpc_url, key_env=args.key_env, keystore=args.keystore)
    return chain.party(args.account) if args.account else chain


def _read_state(path: str) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise Ml2scError(f"state file '{path}' not found (written by 'create')")
    try:
        return json.loads(p.read_text())
    except json.JSONDecodeError as e:
        raise Ml2scError(f"state file '{path}' is not JSON: {e}") from None


def _write_json(path: str, data: dict[str, Any], secret: bool = False) -> None:
    p = Path(path)
    p.write_text(json.dumps(data, indent=2))
    if secret:
        os.chmod(p, 0o600)


def _array(path: str, what: str) -> np.ndarray:
    """A numeric .npy/.npz/.csv array, finite and non-empty (one-line errors naming file, row, column)."""
    from ml2sc.compiler.data import read_array

    x = read_array(path, what)
    if x.size == 0:
        raise Ml2scError(f"{what} file '{path}' is empty (shape {x.shape})")
    bad = np.argwhere(~np.isfinite(x)) if x.dtype.kind == "f" else []
    if len(bad):
        raise Ml2scError(f"{what} file '{path}' at index {tuple(int(i) for i in bad[0])} is {x[tuple(bad[0])]}: "
                         "expected a finite number")
    return x


def _fixed_rows(path: str, decimals: int) -> list[list[int]]:
    """Inputs in the models' fixed-point format: integer arrays as they are, floats rounded exactly
    from float32 to ``decimals`` (what ml2sc's prbmath models take)."""
    from ml2sc.backends.common.fixed import to_fixed
    from ml2sc.compiler.data import check_rows, describe, read_array

    x = read_array(path)
    if np.issubdtype(x.dtype, np.integer):
        x = x[None, :] if x.ndim == 1 else x
        if x.ndim != 2 or len(x) == 0:
            raise Ml2scError(f"{describe(path)} has shape {x.shape}; expected (rows, features)")
        return [[int(v) for v in row] for row in x]
    return [[to_fixed(float(v), decimals) for v in row] for row in check_rows(x, None, describe(path))]


def _model_address(args: argparse.Namespace, chain: Any) -> str:
    """--address of a deployed model, or --model FILE.onnx compiled and deployed now."""
    if args.address:
        return args.address
    if not args.model:
        raise Ml2scError("give the model as --address 0x... (deployed) or --model FILE.onnx (compiled and deployed)")
    from ml2sc.compiler.driver import compile as compile_model

    if not Path(args.model).is_file():
        raise Ml2scError(f"model file '{args.model}' not found")
    deployed = compile_model(args.model, backend=args.backend).deploy(chain)
    print(f"deployed {deployed.compiled.program.contract_name} at {deployed.address} (gas {deployed.gas.deploy:,})")
    return deployed.address


def _gas_line(steps: list[tuple[str, int]]) -> str:
    return ", ".join(f"{step} {gas:,}" for step, gas in steps)


# --------------------------------------------------------------------------- market
def _challenge(args: argparse.Namespace):  # noqa: ANN202 - a Challenge
    from ml2sc.market.challenge import Challenge

    return Challenge(_chain(args), _read_state(args.state)["challenge"])


def cmd_create(args: argparse.Namespace) -> int:
    from ml2sc.market.challenge import Challenge, Rules, TestSet, wei

    labels = _array(args.labels, "labels").reshape(-1)
    test_set = TestSet.build(_fixed_rows(args.data, args.decimals), [int(v) for v in labels])
    rules = Rules(n_classes=args.classes, threshold=args.threshold, stake=wei(args.stake),
                  submission_period=args.submission_period, entry_reveal_period=args.entry_period,
                  reveal_period=args.reveal_period, evaluation_period=args.evaluation_period, model_gas_cap=args.gas_cap,
                  max_submissions=args.max_submissions, input_scale=10**args.decimals, entry_bond=wei(args.bond))
    chain = _chain(args)
    challenge, salt = Challenge.create(chain, test_set, wei(args.reward), rules)
    _write_json(args.secret, {"challenge": challenge.address, "salt": "0x" + salt.hex(), "lane_bytes": test_set.lane_bytes,
                              "inputs": [list(r) for r in test_set.inputs], "labels": list(test_set.labels)}, secret=True)
    _write_json(args.state, {"challenge": challenge.address, "chain": chain.name})
    deadlines = challenge.status().deadlines
    print(f"challenge {challenge.address}: {test_set.n_rows} rows committed, entries committed until "
          f"{deadlines['submission']} and revealed until {deadlines['entry-reveal']}, test set revealed until "
          f"{deadlines['reveal']}, evaluation until {deadlines['evaluation']} (gas {_gas_line(challenge.gas)})")
    print(f"wrote {args.state} (public) and {args.secret} (keep it secret until the reveal)")
    return 0


def _compile_entry(args: argparse.Namespace) -> Any:  # a CompiledModel
    from ml2sc.compiler.driver import compile as compile_model

    if not Path(args.model).is_file():
        raise Ml2scError(f"model file '{args.model}' not found")
    return compile_model(args.model, backend=args.backend, calibration=args.calibration)


def cmd_submit(args: argparse.Namespace) -> int:
    """Commit to an entry: an .onnx compiled here (hash of its code before deployment: it stays
    private until reveal-entry deploys it) or a deployed model (hash read back from the contract)."""
    from ml2sc.market.challenge import compiled_entry_hash, data_contracts_of

    challenge = _challenge(args)
    secret: dict[str, Any] = {"challenge": challenge.address}
    if args.address:
        data = args.data_contract if args.data_contract is not None else data_contracts_of(challenge.chain, args.address)
        entry_hash = challenge.check_entry(args.address, data)
        secret |= {"address": args.address, "data_contracts": data}
        what = f"model {args.address}" + (f" reading {len(data)} data contract(s)" if data else "")
    elif args.model:
        compiled = _compile_entry(args)
        entry_hash = compiled_entry_hash(compiled)
        secret |= {"model": str(Path(args.model).resolve()), "backend": args.backend, "calibration": args.calibration}
        what = f"{args.model} ({args.backend}, not deployed until reveal-entry)"
    else:
        raise Ml2scError("give the entry as --address 0x... (deployed) or --model FILE.onnx (compiled now, deployed at reveal-entry)")
    entry = challenge.commit(entry_hash, challenge.chain)
    _write_json(args.entry, secret | {"entry_hash": "0x" + entry.entry_hash.hex(), "salt": "0x" + entry.salt.hex()},
                secret=True)
    print(f"committed to {what} for {challenge.chain.sender}, bond {challenge.entry_bond / 10**18:g} ETH "
          f"(gas {_gas_line(challenge.gas)}); wrote {args.entry}: reveal it with 'reveal-entry' after the submission deadline")
    return 0


def cmd_reveal_entry(args: argparse.Namespace) -> int:
    """Reveal the entry committed by 'submit' (deploying it first if it was an .onnx)."""
    from ml2sc.market.challenge import compiled_entry_hash, deployed_data_contracts

    if not Path(args.entry).is_file():
        raise Ml2scError(f"entry file '{args.entry}' not found (written by 'market submit')")
    secret = _read_state(args.entry)
    challenge = _challenge(args)
    if secret.get("challenge", challenge.address).lower() != challenge.address.lower():
        raise Ml2scError(f"'{args.entry}' holds an entry of challenge {secret['challenge']}, not {challenge.address}")
    if "address" in secret:
        model, data = secret["address"], secret.get("data_contracts", [])
    else:
        args.model, args.backend, args.calibration = secret["model"], secret["backend"], secret.get("calibration")
        compiled = _compile_entry(args)
        if "0x" + compiled_entry_hash(compiled).hex() != secret["entry_hash"]:
            raise Ml2scError(f"{args.model} no longer compiles to the committed entry (changed file or ml2sc version)")
        deployed = compiled.deploy(challenge.chain)
        print(f"deployed {compiled.program.contract_name} at {deployed.address} (gas {deployed.gas.deploy:,})")
        model, data = deployed.address, deployed_data_contracts(deployed)
    index = challenge.reveal_entry(model, challenge.chain, bytes.fromhex(secret["salt"][2:]), data)
    print(f"revealed {model} as entry {index} for {challenge.chain.sender} (gas {_gas_line(challenge.gas)})")
    return 0


def cmd_reveal(args: argparse.Namespace) -> int:
    from ml2sc.market.challenge import TestSet

    secret = _read_state(args.secret)
    test_set = TestSet(tuple(map(tuple, secret["inputs"])), tuple(secret["labels"]), secret["lane_bytes"])
    challenge = _challenge(args)
    challenge.reveal(bytes.fromhex(secret["salt"][2:]), test_set)
    print(f"revealed {test_set.n_rows} rows (gas {_gas_line(challenge.gas)})")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    challenge = _challenge(args)
    if args.all:
        challenge.evaluate_all(args.batch)
    else:
        challenge.evaluate(args.batch)
    st = challenge.status()
    print(f"evaluated up to entry {st.cursor[0]}, row {st.cursor[1]}; phase {st.phase} (gas {_gas_line(challenge.gas)})")
    return 0


def cmd_claim(args: argparse.Namespace) -> int:
    challenge = _challenge(args)
    amount = challenge.claim(challenge.chain, to=args.to)
    print(f"claimed {amount / 10**18:g} ETH for {challenge.chain.sender} (gas {_gas_line(challenge.gas)})")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    st = _challenge(args).status()
    if args.json:
        print(json.dumps(st.to_json(), indent=2))
        return 0
    print(f"challenge {st.address}: phase {st.phase}, reward {st.reward / 10**18:g} ETH, stake {st.stake / 10**18:g} ETH, "
          f"{st.commits} entries committed (bond {st.entry_bond / 10**18:g} ETH), {len(st.submissions)} revealed, "
          f"rows {st.rows_revealed}/{st.rows} revealed, now {st.timestamp}, deadlines {st.deadlines}")
    for sub in st.submissions:
        score = f"{sub['correct']}/{st.rows} correct, {sub['invalid']} invalid" if sub["evaluated"] else "not evaluated"
        data = f" (+{len(sub['data_contracts'])} data contract(s))" if sub["data_contracts"] else ""
        print(f"  entry {sub['index']}: model {sub['model']}{data} by {sub['submitter']}: {score}")
    print(f"winner: {'entry ' + str(st.winner) if st.winner is not None else 'none (yet)'}")
    return 0


def cmd_warp(args: argparse.Namespace) -> int:
    from ml2sc.market.challenge import Challenge

    chain = _chain(args)
    if args.past:
        now = Challenge(chain, _read_state(args.state)["challenge"]).advance_past(args.past)
    else:
        now = chain.advance_time(args.seconds)
    print(f"chain time is now {now}")
    return 0


# --------------------------------------------------------------------------- verify
def _verifier(args: argparse.Namespace):  # noqa: ANN202 - a VerifiedInference
    from ml2sc.market.verify import VerifiedInference

    return VerifiedInference(_chain(args), _read_state(args.state)["verifier"])


def cmd_verify_create(args: argparse.Namespace) -> int:
    from ml2sc.market.challenge import wei
    from ml2sc.market.verify import VerifiedInference

    chain = _chain(args)
    vi = VerifiedInference.deploy(chain, _model_address(args, chain), args.mode, wei(args.stake), args.window, args.gas_cap)
    _write_json(args.state, {"verifier": vi.address, "chain": chain.name, "claims": {}})
    print(f"verifier {vi.address} for model {vi.model} ({args.mode}), wrote {args.state} (gas {_gas_line(vi.gas)})")
    return 0


def cmd_verify_post(args: argparse.Namespace) -> int:
    from ml2sc.market.challenge import wei

    vi = _verifier(args)
    xs = _fixed_rows(args.data, args.decimals)
    ys = [[int(v) for v in np.atleast_1d(row)] for row in _array(args.claims, "claims")] if args.claims else vi.model_outputs(xs)
    if args.deposit:
        vi.deposit(wei(args.deposit), vi.chain)
    cid = vi.post(xs, ys, vi.chain)
    state = _read_state(args.state)
    state.setdefault("claims", {})[str(cid)] = {"xs": xs, "ys": ys}
    _write_json(args.state, state)
    print(f"claim {cid}: {len(xs)} rows, challengeable until {vi.claim(cid)['deadline']} (gas {_gas_line(vi.gas)})")
    return 0


def _posted(args: argparse.Namespace) -> tuple[list, list]:
    claim = _read_state(args.state).get("claims", {}).get(str(args.id))
    if claim is None:
        raise Ml2scError(f"claim {args.id} is not in '{args.state}' (posted from another state file?)")
    return claim["xs"], claim["ys"]


def cmd_verify_challenge(args: argparse.Namespace) -> int:
    vi = _verifier(args)
    xs, ys = _posted(args)
    vi.challenge(args.id, xs, ys, args.row, vi.chain)
    print(f"claim {args.id} row {args.row} was false: slashed, {vi.balance_of(vi.chain.sender) / 10**18:g} ETH to "
          f"withdraw (gas {_gas_line(vi.gas)})")
    return 0


def cmd_verify_finalize(args: argparse.Namespace) -> int:
    vi = _verifier(args)
    vi.finalize(args.id)
    print(f"claim {args.id} is final (gas {_gas_line(vi.gas)})")
    return 0


def cmd_verify_withdraw(args: argparse.Namespace) -> int:
    vi = _verifier(args)
    amount = vi.withdraw(vi.chain)
    print(f"withdrew {amount / 10**18:g} ETH (gas {_gas_line(vi.gas)})")
    return 0


def cmd_verify_status(args: argparse.Namespace) -> int:
    vi = _verifier(args)
    ids = [args.id] if args.id is not None else range(int(vi.contract.view("claimCount")))
    for cid in ids:
        print(json.dumps(vi.claim(cid)))
    return 0


def cmd_verify_warp(args: argparse.Namespace) -> int:
    print(f"chain time is now {_verifier(args).advance_past_window(args.id)}")
    return 0


# --------------------------------------------------------------------------- parsers
def _common(p: argparse.ArgumentParser, state: str) -> None:
    p.add_argument("--state", default=state, help=f"JSON file with the contract's address (default {state})")
    p.add_argument("--chain", default="embedded", choices=["embedded", "anvil"],
                   help="embedded or anvil live for this one process only: use --rpc-url across commands")
    p.add_argument("--rpc-url", help="a JSON-RPC node (key from --key-env or --keystore)")
    p.add_argument("--key-env", default="ML2SC_PRIVATE_KEY", help="env var holding the hex private key")
    p.add_argument("--keystore", help="encrypted keystore file (password from $ML2SC_KEYSTORE_PASSWORD or asked)")
    p.add_argument("--account", type=int, default=0, help="embedded/anvil: which funded dev account signs (0-9)")


def _model_source(p: argparse.ArgumentParser) -> None:
    p.add_argument("--address", help="a model contract already deployed")
    p.add_argument("--model", help="an .onnx file: compiled, deployed by this account, then used")
    p.add_argument("--backend", "-b", default="prbmath", help="backend for --model (default prbmath)")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``market`` and ``verify`` (with their subcommands) to ml2sc's parser."""
    from ml2sc.market.job_cli import register as register_job

    register_job(sub)  # ml2sc job ... (market/job_cli.py)
    market = sub.add_parser("market", help="ML challenges: reward, hidden test set, on-chain evaluation")
    msub = market.add_subparsers(dest="market_command", required=True, metavar="STEP")
    state = "challenge.json"

    p = msub.add_parser("create", help="deploy a challenge: escrow the reward, commit to the test set")
    _common(p, state)
    p.add_argument("--data", required=True, help="test inputs, .npy (rows, features); floats become fixed point")
    p.add_argument("--labels", required=True, help="test labels, .npy of class indices")
    p.add_argument("--reward", required=True, help="reward in ETH")
    p.add_argument("--stake", default="0", help="organiser's stake in ETH, forfeited if it never reveals (default 0)")
    p.add_argument("--threshold", type=float, default=0.0, help="minimum accuracy to win (default 0: best model wins)")
    p.add_argument("--classes", type=int, default=2, help="number of classes (default 2)")
    p.add_argument("--decimals", type=int, default=18, help="fixed-point decimals of the inputs (default 18, SD59x18)")
    p.add_argument("--submission-period", type=int, default=86_400,
                   help="seconds from now to commit to entries (default 1 day)")
    p.add_argument("--entry-period", type=int, default=86_400,
                   help="seconds after submissions close to reveal the entries (default 1 day)")
    p.add_argument("--reveal-period", type=int, default=86_400,
                   help="seconds after the entry reveal closes to reveal the test set (default 1 day)")
    p.add_argument("--evaluation-period", type=int, default=86_400, help="seconds after the reveal deadline (default 1 day)")
    p.add_argument("--gas-cap", type=int, default=1_000_000, help="gas per model call (default 1,000,000)")
    p.add_argument("--max-submissions", type=int, default=16, help="entries (commitments) accepted (default 16)")
    p.add_argument("--bond", default="0.01",
                   help="ETH each entry locks, refunded on a valid reveal; keeps junk out of the slots (default 0.01)")
    p.add_argument("--secret", default="challenge.secret.json", help="where to write the test set and salt")
    p.set_defaults(func=cmd_create)

    p = msub.add_parser("submit", help="commit to an entry (an .onnx compiled now, or a deployed model), with the bond")
    _common(p, state)
    p.add_argument("--address", help="a model contract already deployed")
    p.add_argument("--data-contract", action="append",
                   help="a data contract the deployed model reads, in order (repeat; default: found in its code)")
    p.add_argument("--model", help="an .onnx file: compiled now, deployed by this account at reveal-entry")
    p.add_argument("--backend", "-b", default="prbmath", help="backend for --model (default prbmath)")
    p.add_argument("--calibration", help="calibration rows (.npy) for --model with a quantizing backend (int8)")
    p.add_argument("--entry", default="entry.secret.json", help="where to keep the salt until reveal-entry")
    p.set_defaults(func=cmd_submit)

    p = msub.add_parser("reveal-entry", help="after the submission deadline: reveal (deploying first) the committed entry")
    _common(p, state)
    p.add_argument("--entry", default="entry.secret.json", help="the file 'submit' wrote")
    p.set_defaults(func=cmd_reveal_entry)

    p = msub.add_parser("reveal", help="organiser: reveal the test set and salt after the entry reveal closes")
    _common(p, state)
    p.add_argument("--secret", default="challenge.secret.json", help="the file 'create' wrote")
    p.set_defaults(func=cmd_reveal)

    p = msub.add_parser("evaluate", help="score a batch of (model, row) pairs; anyone may run it")
    _common(p, state)
    p.add_argument("--batch", type=int, default=50, help="pairs per transaction (default 50)")
    p.add_argument("--all", action="store_true", help="keep sending batches until the evaluation is complete")
    p.set_defaults(func=cmd_evaluate)

    p = msub.add_parser("claim", help="pull this account's payout once the challenge is final")
    _common(p, state)
    p.add_argument("--to", help="send the payout to this address instead")
    p.set_defaults(func=cmd_claim)

    p = msub.add_parser("status", help="phase, deadlines, entries and scores")
    _common(p, state)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)

    p = msub.add_parser("warp", help="dev chains (anvil): move the clock, e.g. --past submission")
    _common(p, state)
    p.add_argument("seconds", type=int, nargs="?", default=0)
    p.add_argument("--past", choices=["submission", "entry-reveal", "reveal", "evaluation"], help="just past this deadline")
    p.set_defaults(func=cmd_warp)

    verify = sub.add_parser("verify", help="verified off-chain inference: staked claims, challenged on chain")
    vsub = verify.add_subparsers(dest="verify_command", required=True, metavar="STEP")
    state = "verifier.json"

    p = vsub.add_parser("create", help="deploy a verifier for one model")
    _common(p, state)
    _model_source(p)
    p.add_argument("--mode", default="classify", choices=["classify", "predict"], help="what a claim states")
    p.add_argument("--stake", default="0.1", help="ETH locked per claim, the challenger's bounty (default 0.1)")
    p.add_argument("--window", type=int, default=3_600, help="challenge window in seconds (default 3600)")
    p.add_argument("--gas-cap", type=int, default=1_000_000, help="gas for the on-chain re-run (default 1,000,000)")
    p.set_defaults(func=cmd_verify_create)

    p = vsub.add_parser("post", help="operator: claim the model's outputs for --data (run off chain)")
    _common(p, state)
    p.add_argument("--data", required=True, help="inputs, .npy (rows, features)")
    p.add_argument("--claims", help="post these outputs (.npy) instead of the model's own")
    p.add_argument("--deposit", help="first deposit this much ETH of stake")
    p.add_argument("--decimals", type=int, default=18, help="fixed-point decimals of the inputs (default 18)")
    p.set_defaults(func=cmd_verify_post)

    for name, func, text in (("challenge", cmd_verify_challenge, "re-run one row on chain; slash a false claim"),
                             ("finalize", cmd_verify_finalize, "after the window: make a claim final"),
                             ("warp", cmd_verify_warp, "dev chains: move the clock past a claim's window")):
        p = vsub.add_parser(name, help=text)
        _common(p, state)
        p.add_argument("--id", type=int, required=True, help="claim id")
        if name == "challenge":
            p.add_argument("--row", type=int, default=0, help="row of the claim to re-run (default 0)")
        p.set_defaults(func=func)

    p = vsub.add_parser("withdraw", help="pull this account's free balance (released stake, bounties)")
    _common(p, state)
    p.set_defaults(func=cmd_verify_withdraw)

    p = vsub.add_parser("status", help="print claims")
    _common(p, state)
    p.add_argument("--id", type=int, help="one claim (default: all)")
    p.set_defaults(func=cmd_verify_status)
