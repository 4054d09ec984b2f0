"""``ml2sc job ...``: inference jobs from the command line.

Each command is one process, so the job's address, its public rows and, as they are
revealed, the workers' outputs and the opened verification set travel in a JSON state
file (``--state``, public). The poster's verification set goes to ``--secret`` and each
worker's salt and outputs to ``--worker-secret`` (both mode 0600: whoever reads them
early can cheat). Run the steps against a node that persists (``--rpc-url``); ``ml2sc
job warp`` moves a dev chain's clock past a deadline.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ml2sc.ir.errors import Ml2scError
from ml2sc.market.cli import (
    _array,
    _chain,
    _common,
    _fixed_rows,
    _gas_line,
    _model_address,
    _model_source,
    _read_state,
)
from ml2sc.market.cli import _write_json as _write

STATE, SECRET = "job.json", "job.secret.json"


def _job(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:  # an InferenceJob and the state
    from ml2sc.market.job import InferenceJob

    state = _read_state(args.state)
    if not {"jobs", "id", "rows"} <= state.keys():
        raise Ml2scError(f"state file '{args.state}' is not a job's (written by 'ml2sc job create')")
    return InferenceJob(_chain(args), state["jobs"]).at(state["id"], state["rows"]), state


def _worker_secret(args: argparse.Namespace, job: Any) -> str:
    return args.worker_secret or f"job-{job.id}.worker-{job.chain.sender[2:10].lower()}.secret.json"


def _eth(wei: int) -> str:
    return f"{wei / 10**18:g} ETH"


def cmd_create(args: argparse.Namespace) -> int:
    from ml2sc.market.challenge import wei
    from ml2sc.market.job import InferenceJob, Terms, classify_rows, hide

    chain = _chain(args)
    model = _model_address(args, chain)
    job_rows, check_rows = _fixed_rows(args.data, args.decimals), _fixed_rows(args.verify_data, args.decimals)
    if args.verify_answers:
        answers = [int(v) for v in _array(args.verify_answers, "verification answers").reshape(-1)]
    else:
        answers = classify_rows(chain, model, check_rows)  # the poster runs the pinned model itself
    rows, verification = hide(job_rows, check_rows, answers, seed=args.seed)
    terms = Terms(worker_stake=wei(args.worker_stake), poster_stake=wei(args.stake), commit_period=args.commit_period,
                  reveal_period=args.reveal_period, open_period=args.open_period, dispute_period=args.dispute_period,
                  min_workers=args.min_workers, max_workers=args.max_workers, model_gas_cap=args.gas_cap)
    job = InferenceJob.create(chain, model, rows, verification, wei(args.reward), terms, jobs=args.jobs)
    _write(args.secret, {"jobs": job.address, "id": job.id, **verification.to_json()}, secret=True)
    _write(args.state, {"jobs": job.address, "id": job.id, "chain": chain.name, "model": model, "rows": rows,
                        "outputs": {}})
    print(f"job {job.id} of InferenceJobs {job.address}: {len(rows)} rows ({len(check_rows)} of them hidden verification rows), reward "
          f"{args.reward} ETH, commits until {job.deadline('commit')} (gas {_gas_line(job.gas)})")
    print(f"wrote {args.state} (public) and {args.secret} (keep it secret until you open it)")
    return 0


def cmd_join(args: argparse.Namespace) -> int:
    job, _ = _job(args)
    job.join(job.chain)
    print(f"{job.chain.sender} joined, staking {_eth(job.terms()['worker_stake'])} (gas {_gas_line(job.gas)})")
    return 0


def cmd_commit(args: argparse.Namespace) -> int:
    job, _ = _job(args)
    if args.outputs:
        outputs = [int(v) for v in _array(args.outputs, "outputs").reshape(-1)]
    else:
        outputs = job.model_outputs()  # the honest worker's off-chain run (eth_call of the model)
    secret = job.commit(outputs, job.chain, join=args.join)
    path = _worker_secret(args, job)
    _write(path, {"jobs": job.address, "id": job.id, "worker": job.chain.sender, **secret.to_json()}, secret=True)
    print(f"{job.chain.sender} committed to {len(outputs)} outputs, root 0x{secret.root.hex()} (gas "
          f"{_gas_line(job.gas)}); wrote {path} (keep it until the reveal)")
    return 0


def cmd_reveal(args: argparse.Namespace) -> int:
    from ml2sc.market.job import Verification, WorkerSecret

    job, state = _job(args)
    if args.poster:
        verification = Verification.from_json(_read_state(args.secret))
        job.open(verification)
        state["opened"] = {"positions": list(verification.positions), "answers": list(verification.answers)}
        _write(args.state, state)
        print(f"opened the verification set: rows {list(verification.positions)} (gas {_gas_line(job.gas)})")
        return 0
    secret = WorkerSecret.from_json(_read_state(_worker_secret(args, job)))
    job.reveal(secret, job.chain)
    state.setdefault("outputs", {})[job.chain.sender] = list(secret.outputs)
    _write(args.state, state)
    print(f"{job.chain.sender} revealed {len(secret.outputs)} outputs (gas {_gas_line(job.gas)})")
    return 0


def _outputs_of(state: dict[str, Any], worker: str) -> list[int]:
    for address, outputs in state.get("outputs", {}).items():
        if address.lower() == worker.lower():
            return outputs
    raise Ml2scError(f"no revealed outputs of {worker} in the state file (revealed with another state file?)")


def cmd_check(args: argparse.Namespace) -> int:
    job, state = _job(args)
    if "opened" not in state:
        raise Ml2scError("the verification set is not opened yet (the poster runs 'ml2sc job reveal --poster')")
    opened = (state["opened"]["positions"], state["opened"]["answers"])
    for worker in args.worker or [job.chain.sender]:
        ok = job.check(worker, _outputs_of(state, worker), opened)
        print(f"{worker}: {'verified' if ok else 'SLASHED (wrong on a verification row)'}")
    if job.status()["poster_lied"]:
        print("the model contradicted the poster's answer: the poster loses its stake")
    print(f"gas {_gas_line(job.gas)}")
    return 0


def cmd_dispute(args: argparse.Namespace) -> int:
    job, state = _job(args)
    if args.worker:
        sides = [(w, _outputs_of(state, w)) for w in args.worker]
    else:  # everyone whose revealed output on the row differs from the model's (eth_call)
        truth = job.model_outputs([job.rows[args.row]])[0]
        sides = [(w, out) for w, out in state.get("outputs", {}).items()
                 if out[args.row] != truth and job.worker(w)["status"] in ("revealed", "verified")]
        if not sides:
            raise Ml2scError(f"every revealed worker agrees with the model on row {args.row}: nothing to dispute")
    slashed = job.dispute(args.row, sides, job.chain)
    print(f"row {args.row}: the model ran on chain; slashed {', '.join(slashed)} (gas {_gas_line(job.gas)})")
    return 0


def cmd_claim(args: argparse.Namespace) -> int:
    job, _ = _job(args)
    amount = job.claim(job.chain)
    print(f"claimed {_eth(amount)} for {job.chain.sender} (gas {_gas_line(job.gas)})")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    job, _ = _job(args)
    st = job.status()
    if args.json:
        print(json.dumps(st, indent=2))
        return 0
    print(f"job {st['id']} of InferenceJobs {st['address']}: phase {st['phase']}, {st['rows']} rows, reward {_eth(st['reward'])}, worker stake "
          f"{_eth(st['worker_stake'])}, poster stake {_eth(st['poster_stake'])}, now {st['timestamp']}, "
          f"deadlines {st['deadlines']}")
    for w in st["workers"]:
        owed = f", claimable {_eth(w['claimable'])}" if w["claimable"] is not None else ""
        print(f"  {w['address']}: {w['status']}{owed}{' (claimed)' if w['claimed'] else ''}")
    if st["poster_lied"]:
        print("  the poster lied about a verification answer")
    if st["settled"]:
        print(f"settled: {st['honest_workers']} honest workers, share {_eth(st['share'])}, result root {st['result_root']}")
    return 0


def cmd_warp(args: argparse.Namespace) -> int:
    job, _ = _job(args)
    print(f"chain time is now {job.advance_past(args.past)}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``job`` (with its subcommands) to ml2sc's parser."""
    job = sub.add_parser("job", help="inference jobs: staked workers, hidden verification rows, on-chain disputes")
    jsub = job.add_subparsers(dest="job_command", required=True, metavar="STEP")

    p = jsub.add_parser("create", help="poster: deploy a job, escrow the reward, commit to hidden verification rows")
    _common(p, STATE)
    _model_source(p)
    p.add_argument("--data", required=True, help="rows to classify, .npy (rows, features); floats become fixed point")
    p.add_argument("--verify-data", required=True, help="verification rows (.npy), hidden among the rows")
    p.add_argument("--verify-answers", help="their answers (.npy); default: the model's own, by eth_call")
    p.add_argument("--reward", required=True, help="reward in ETH, split among the honest workers")
    p.add_argument("--stake", default="0.1", help="poster's stake in ETH, lost if it lies or never opens (default 0.1)")
    p.add_argument("--worker-stake", default="0.1", help="each worker's stake in ETH (default 0.1)")
    p.add_argument("--min-workers", type=int, default=2, help="fewer commitments cancel the job (default 2)")
    p.add_argument("--max-workers", type=int, default=16, help="at most this many workers (default 16)")
    for phase, what in (("commit", "join and commit"), ("reveal", "workers reveal"), ("open", "the poster opens"),
                        ("dispute", "checks and disputes")):
        p.add_argument(f"--{phase}-period", type=int, default=3_600, help=f"seconds to {what} (default 3600)")
    p.add_argument("--gas-cap", type=int, default=1_000_000, help="gas per on-chain model run (default 1,000,000)")
    p.add_argument("--decimals", type=int, default=18, help="fixed-point decimals of the inputs (default 18)")
    p.add_argument("--seed", type=int, help="shuffle seed (default: random)")
    p.add_argument("--jobs", help="an InferenceJobs contract already deployed (default: deploy one)")
    p.add_argument("--secret", default=SECRET, help=f"where to write the verification set (default {SECRET})")
    p.set_defaults(func=cmd_create)

    def worker_secret(q: argparse.ArgumentParser) -> None:
        q.add_argument("--worker-secret", help="the worker's salt and outputs (default job-<id>.worker-<address>.secret.json)")

    p = jsub.add_parser("join", help="worker: stake to work on the job")
    _common(p, STATE)
    p.set_defaults(func=cmd_join)

    p = jsub.add_parser("commit", help="worker: run the model off chain and commit to the outputs' Merkle root")
    _common(p, STATE)
    p.add_argument("--outputs", help="commit to these outputs (.npy) instead of the model's")
    p.add_argument("--join", action="store_true", help="join (stake) in the same transaction")
    worker_secret(p)
    p.set_defaults(func=cmd_commit)

    p = jsub.add_parser("reveal", help="worker: reveal the outputs; --poster: open the verification set")
    _common(p, STATE)
    p.add_argument("--poster", action="store_true", help="the poster opens its verification set (after the reveals)")
    p.add_argument("--secret", default=SECRET, help="with --poster: the file 'create' wrote")
    worker_secret(p)
    p.set_defaults(func=cmd_reveal)

    p = jsub.add_parser("check", help="check workers' outputs on the verification rows (default: this account)")
    _common(p, STATE)
    p.add_argument("--worker", action="append", help="worker address (repeatable)")
    p.set_defaults(func=cmd_check)

    p = jsub.add_parser("dispute", help="run the model on one row on chain; slash the workers it contradicts")
    _common(p, STATE)
    p.add_argument("--row", type=int, required=True, help="row index")
    p.add_argument("--worker", action="append", help="a side of the dispute (repeatable; default: every revealed "
                   "worker whose output differs from the model's)")
    p.set_defaults(func=cmd_dispute)

    p = jsub.add_parser("claim", help="pull this account's payout once the job is over")
    _common(p, STATE)
    p.set_defaults(func=cmd_claim)

    p = jsub.add_parser("status", help="phase, deadlines, workers and payouts")
    _common(p, STATE)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)

    p = jsub.add_parser("warp", help="dev chains (anvil): move the clock just past a deadline")
    _common(p, STATE)
    p.add_argument("--past", required=True, choices=["commit", "reveal", "open", "dispute"])
    p.set_defaults(func=cmd_warp)
