"""A whole marketplace challenge, played on chain by three models trained here.

Breast cancer (ML2SC's min-max scaling): the organiser keeps the first 100 rows
as the hidden test set and posts 1 ETH for the best model with at least 85%
accuracy, entries bonded 0.01 ETH, models reading data contracts admitted.
Alice trains ML2SC's MLP_2L_4n (30-4-1), Bob the smaller MLP_2L_2n (30-2-1),
both compiled with ml2sc's prbmath backend; Carol trains MLP_2L_4n with another
seed and compiles it with the int8 backend, its weights in a data contract.
Each commits to the hash of its compiled code before deploying anything; after
the submission deadline each deploys and reveals its entry. The organiser
reveals the test set, anyone evaluates the 300 (model, row) pairs in batches of
50, and everybody claims. Every step's gas is measured from the receipts.

Run: .venv/bin/python examples/market_demo.py [--chain anvil] [--batch 50]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

import ml2sc
from ml2sc.chain import open_chain
from ml2sc.market.challenge import (
    Challenge,
    Rules,
    TestSet,
    compiled_entry_hash,
    deployed_data_contracts,
)
from ml2sc.tools import ml2sc_suite as suite

N_TEST = 100
ETH = 10**18
INT8_DATA = "canonicalize,fold-batchnorm,fuse-affine,quantize-int8,place-weights{weights=data}"


def split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """ML2SC's scaled breast-cancer data; the first 100 rows are the organiser's test set."""
    x_train, y_train, x_test, y_test = suite.breast_cancer()
    x = np.concatenate([x_test, x_train])
    y = np.concatenate([y_test, y_train])
    return x[N_TEST:], y[N_TEST:], x[:N_TEST], y[:N_TEST]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chain", default="embedded", choices=["embedded", "anvil"])
    parser.add_argument("--batch", type=int, default=50, help="(model, row) pairs per evaluate transaction")
    args = parser.parse_args(argv)
    start = time.monotonic()

    x_train, y_train, x_test, y_test = split()
    print(f"training three competing models on {len(x_train)} rows ...")
    torch.set_num_threads(1)  # 4-row batches: threads only add contention
    entries = {
        "alice": ("MLP_2L_4n (30-4-1), prbmath", suite.train([30, 4, 1], seed=0, epochs=30, x=x_train, y=y_train)),
        "bob": ("MLP_2L_2n (30-2-1), prbmath", suite.train([30, 2, 1], seed=1, epochs=30, x=x_train, y=y_train)),
        "carol": ("MLP_2L_4n (30-4-1), int8 + data contract",
                  suite.train([30, 4, 1], seed=2, epochs=30, x=x_train, y=y_train)),
    }
    compiled = {who: ml2sc.compile(suite.to_onnx(model), name=f"{who}_model") for who, (_, model) in entries.items()
                if who != "carol"}
    compiled["carol"] = ml2sc.compile(suite.to_onnx(entries["carol"][1]), backend="int8", pipeline=INT8_DATA,
                                      calibration=x_train, name="carol_model")

    chain = open_chain(args.chain)
    organiser = chain
    parties = {who: chain.party(i) for i, who in enumerate(entries, start=1)}

    test_set = TestSet.build(compiled["alice"].quantize(x_test), y_test.astype(int))
    rules = Rules(n_classes=2, threshold=0.85, stake=ETH // 10, model_gas_cap=500_000, entry_bond=ETH // 100)
    challenge, salt = Challenge.create(organiser, test_set, reward=ETH, rules=rules)
    print(f"challenge {challenge.address} on the {chain.name} chain: 1 ETH reward, 0.1 ETH stake, 0.01 ETH entry bond, "
          f"{test_set.n_rows} hidden rows ({test_set.row_bytes} bytes each), accuracy >= 85% to win")
    # commitments to the compiled code: nothing is deployed (nothing public) before the deadline
    secrets = {who: challenge.commit(compiled_entry_hash(compiled[who]), parties[who]) for who in entries}
    challenge.advance_past("submission")
    models = {who: compiled[who].deploy(parties[who]) for who in entries}
    for who in entries:
        challenge.reveal_entry(models[who].address, parties[who], secrets[who].salt,
                               deployed_data_contracts(models[who]))
    challenge.advance_past("entry-reveal")
    challenge.reveal(salt, test_set)
    transactions = challenge.evaluate_all(args.batch)
    status = challenge.status()

    # the simulators' answers, classified as the contracts do (score >= 0.5): prbmath's SD59x18
    # integers as they are; int8's decoded outputs (its classify compares q with the least q whose
    # decoded value reaches 0.5)
    expected = {who: sum(int(out[0] >= ETH // 2) == label
                         for out, label in zip(compiled[who].simulate_raw(list(test_set.inputs)), test_set.labels,
                                               strict=True))
                for who in ("alice", "bob")}
    scores = next(iter(compiled["carol"].simulate(x_test).values())).reshape(-1)
    expected["carol"] = int(np.sum((scores >= 0.5) == y_test))
    for sub, who in zip(status.submissions, entries, strict=True):
        mark = "==" if sub["correct"] == expected[who] else "!="
        print(f"  {who:5} {entries[who][0]:40} {sub['correct']}/{test_set.n_rows} correct on chain "
              f"({mark} simulator {expected[who]}), {sub['invalid']} invalid answers")
    winner = list(entries)[status.winner] if status.winner is not None else None
    print(f"winner: {winner}; evaluation took {transactions} transactions of up to {args.batch} pairs")

    paid = {"organiser": challenge.claim(organiser)}
    for who in entries:  # the winner's reward, everyone's bond
        paid[who] = challenge.claim(parties[who])
    print("claimed: " + ", ".join(f"{who} {amount / ETH:g} ETH" for who, amount in paid.items()))

    sizes = {who: len(chain.code(models[who].address)) for who in entries}
    print("entry code scanned at reveal: " + ", ".join(f"{who} {n:,} bytes" for who, n in sizes.items()))
    print_gas(challenge.gas, models)
    print(f"done in {time.monotonic() - start:.1f} s")
    ok = all(sub["correct"] == expected[who] for sub, who in zip(status.submissions, entries, strict=True))
    return 0 if ok and status.phase == "final" and chain.balance(challenge.address) == 0 else 1


def print_gas(steps: list[tuple[str, int]], models: dict) -> None:
    """One line per transaction, then the total of the challenge itself (models' deployment apart)."""
    print(f"\n{'step':<28}{'gas':>12}")
    for who, deployed in models.items():
        print(f"{'(deploy ' + who + ' model)':<28}{deployed.gas.deploy:>12,}")
    counts: dict[str, int] = {}
    names = dict(enumerate(models))
    for step, gas in steps:
        counts[step] = counts.get(step, 0) + 1
        label = f"{step} {counts[step]}" if sum(s == step for s, _ in steps) > 1 else step
        if step in ("commit", "revealEntry"):
            label = f"{step}, {names[counts[step] - 1]}"
        print(f"{label:<28}{gas:>12,}")
    evaluation = sum(g for s, g in steps if s == "evaluate")
    print(f"{'evaluate, all batches':<28}{evaluation:>12,}")
    print(f"{'full challenge':<28}{sum(g for _, g in steps):>12,}")


if __name__ == "__main__":
    sys.exit(main())
