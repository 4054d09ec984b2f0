"""A whole inference job, end to end on chain: four staked workers, one cheater caught on the
poster's hidden rows, one wrong row settled by running the model on chain.

The model is ML2SC's MLP_2L_2n (30-2-1) on breast cancer, trained here and compiled with ml2sc's
prbmath backend; its contract is deployed once and pinned by the job (code hash). The poster wants
28 rows classified and hides 4 verification rows of its own among them (2 of each class), whose
answers it knows by running the pinned model itself. Four workers stake and commit:

- alice and bob run the model honestly;
- carol skips the work and answers "benign" (0) everywhere: the hidden rows catch her;
- dave runs the model but reports one job row wrong (a row that is not a verification row, so his
  check passes): alice disputes that row and the contract runs the model on it.

Then the honest workers split the reward and the two forfeited stakes, the poster gets its stake
back, and a consumer checks a final result with a Merkle proof. Every step's gas comes from the
receipts.

Run: .venv/bin/python examples/job_demo.py [--chain anvil]
"""

from __future__ import annotations

import argparse
import sys
import time

import torch
from rich.console import Console
from rich.table import Table

import ml2sc
from ml2sc.chain import open_chain
from ml2sc.market.job import InferenceJob, MerkleTree, Terms, classify_rows, hide
from ml2sc.tools import ml2sc_suite as suite

ETH = 10**18
N_JOB, N_CHECK = 28, 4
REWARD, STAKE = ETH, ETH // 10


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chain", default="embedded", choices=["embedded", "anvil"])
    parser.add_argument("--seed", type=int, default=0, help="where the verification rows are hidden")
    args = parser.parse_args(argv)
    console = Console(highlight=False)
    start = time.monotonic()

    x_train, y_train, x_test, y_test = suite.breast_cancer()
    console.print(f"training MLP_2L_2n (30-2-1) on {len(x_train)} rows ...")
    torch.set_num_threads(1)
    compiled = ml2sc.compile(suite.to_onnx(suite.train([30, 2, 1], seed=1, epochs=30)), name="job_model")

    chain = open_chain(args.chain)
    poster = chain
    workers = {name: chain.party(i) for i, name in enumerate(("alice", "bob", "carol", "dave"), start=1)}
    model = compiled.deploy(poster)
    console.print(f"model {model.address} deployed on the {chain.name} chain (gas {model.gas.deploy:,})")

    # the poster: 28 rows to classify, 4 of its own rows hidden among them (2 of each class)
    job_x = compiled.quantize(x_test[:N_JOB])
    pool = compiled.quantize(x_test[N_JOB:])
    pool_answers = classify_rows(poster, model.address, pool)
    pick = [i for i, a in enumerate(pool_answers) if a == 0][:2] + [i for i, a in enumerate(pool_answers) if a == 1][:2]
    rows, verification = hide(job_x, [pool[i] for i in pick], [pool_answers[i] for i in pick], seed=args.seed)
    terms = Terms(worker_stake=STAKE, poster_stake=STAKE, min_workers=3, max_workers=8, model_gas_cap=500_000)
    job = InferenceJob.create(poster, model.address, rows, verification, REWARD, terms)
    console.print(f"job {job.id} of InferenceJobs {job.address}: {len(rows)} rows (30 inputs each), reward 1 ETH, stakes 0.1 ETH; the "
                  f"verification rows are rows {list(verification.positions)} (only the poster knows)")

    # the workers' off-chain runs, checked against ml2sc's bit-exact simulator
    truth = job.model_outputs()
    simulated = [int(out[0] >= ETH // 2) for out in compiled.simulate_raw(rows)]
    assert truth == simulated, "eth_call of the model differs from the simulator"
    wrong_row = next(i for i in range(len(rows)) if i not in verification.positions)
    dave = list(truth)
    dave[wrong_row] = 1 - dave[wrong_row]
    outputs = {"alice": truth, "bob": list(truth), "carol": [0] * len(rows), "dave": dave}

    secrets = {}
    for name, party in workers.items():
        if name in ("alice", "bob"):  # two transactions: stake first, commit later
            job.join(party, label=f"join ({name})")
            secrets[name] = job.commit(outputs[name], party, label=f"commit ({name})")
        else:  # one transaction: the stake comes with the commitment
            secrets[name] = job.commit(outputs[name], party, label=f"join + commit ({name})", join=True)
    job.advance_past("commit")
    for name, party in workers.items():
        job.reveal(secrets[name], party, label=f"reveal ({name}, {len(rows)} outputs)")
    job.advance_past("reveal")
    job.open(verification, label=f"open ({len(verification.positions)} hidden rows)")
    opened = (verification.positions, verification.answers)
    passed = {name: job.check(workers[name].sender, outputs[name], opened, by=workers[name], label=f"check ({name})")
              for name in ("alice", "bob", "dave")}
    passed["carol"] = job.check(workers["carol"].sender, outputs["carol"], opened, by=workers["alice"],
                                label="check (carol, by alice: slashed)")
    console.print("checks on the hidden rows: " + ", ".join(f"{n} {'passed' if ok else 'SLASHED'}"
                                                           for n, ok in passed.items()))
    slashed = job.dispute(wrong_row, [(workers["alice"].sender, truth), (workers["dave"].sender, dave)],
                          by=workers["alice"], label=f"dispute (row {wrong_row}: alice vs dave)")
    console.print(f"dispute of row {wrong_row}: the model ran on chain and slashed "
                  f"{', '.join(n for n, p in workers.items() if p.sender in slashed)}")

    job.advance_past("dispute")
    job.settle(by=poster)
    paid = {name: job.claim(workers[name], label=f"claim ({name})") for name in ("alice", "bob")}
    paid["poster"] = job.claim(poster, label="claim (poster: its stake)")
    row = next(i for i in range(len(rows)) if truth[i] == 1 and i not in verification.positions)
    proof = MerkleTree.of_outputs(truth).proof(row)
    final = bool(job.view("isFinalResult", row, 1, proof))
    console.print("paid: " + ", ".join(f"{who} {amount / ETH:g} ETH" for who, amount in paid.items())
                  + f"; consumer: row {row} is final as class 1: {final}")

    print_gas(console, job.gas, model.gas.deploy)
    console.print(f"done in {time.monotonic() - start:.1f} s")
    st = job.status()
    ok = (passed == {"alice": True, "bob": True, "dave": True, "carol": False} and final
          and [p.sender for n, p in workers.items() if n == "dave"] == slashed
          and paid == {"alice": STAKE + (REWARD + 2 * STAKE) // 2, "bob": STAKE + (REWARD + 2 * STAKE) // 2,
                       "poster": STAKE}
          and st["phase"] == "final" and chain.balance(job.address) == 0)
    return 0 if ok else 1


def print_gas(console: Console, steps: list[tuple[str, int]], model_deploy: int) -> None:
    table = Table(title="gas per step (from the receipts)")
    table.add_column("step")
    table.add_column("gas", justify="right")
    table.add_row("[dim]deploy the model (once, its owner)[/dim]", f"[dim]{model_deploy:,}[/dim]")
    for step, gas in steps:
        once = step.startswith("deploy")  # the InferenceJobs contract: one per chain, every job in it
        table.add_row(f"[dim]{step}[/dim]" if once else step, f"[dim]{gas:,}[/dim]" if once else f"{gas:,}")
    total = sum(g for s, g in steps if not s.startswith("deploy"))
    table.add_row("[bold]whole job[/bold]", f"[bold]{total:,}[/bold]")
    console.print(table)


if __name__ == "__main__":
    sys.exit(main())
