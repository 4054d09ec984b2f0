"""Inference over several transactions: the client side of ``begin``/``step`` (int8 steps).

A model whose one inference would exceed the per-transaction gas cap is compiled with a
``STEPS``-step forward pass (``backends/int8/session.py``). Here a row runs as ``begin(q)``
and then ``STEPS`` ``step(session, state)`` transactions, each sent with the cap as its gas
limit, each returning the next state; the last returns the outputs, bit for bit those of
``predict`` and of the simulator.

The chain keeps, per session, keccak(state) and the next step's index
(``sessionCommit(session)``), and every step's ``Step(session, next, state)`` event, so an
interrupted inference resumes from the chain alone: ``resume(session)`` reads the
commitment, finds the last event of the session, checks its state against the commitment
and sends the remaining steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eth_abi import decode, encode
from eth_utils import keccak

from ml2sc.backends.common.naming import selector
from ml2sc.chain import Reverted, TxResult
from ml2sc.ir.errors import Ml2scError

if TYPE_CHECKING:
    from ml2sc.compiler.driver import DeployedModel

STEP_TOPIC = keccak(text="Step(uint256,uint256,bytes)")
INDEX_MASK = 0xFFFF


@dataclass(frozen=True)
class Session:
    """Where one stepped inference stands: the session id, the next step and its state."""

    id: int
    next: int
    state: bytes


def steps_of(deployed: DeployedModel) -> int:
    """The model's step count (0: one transaction per inference)."""
    return int(deployed.compiled.program.metadata.get("steps", 0))


def tx_gas_cap(deployed: DeployedModel) -> int | None:
    """The cap the model was compiled for (None: the chain's default)."""
    cap = deployed.compiled.program.metadata.get("tx_gas_cap")
    return int(cap) if cap else None


def _send(deployed: DeployedModel, calldata: bytes, action: str) -> TxResult:
    try:
        return deployed.chain.transact(deployed.address, calldata, gas=tx_gas_cap(deployed))  # type: ignore[call-arg]
    except Reverted as e:
        raise deployed.compiled.explain(e, action) from None


def begin(deployed: DeployedModel, row: list[int]) -> Session:
    """Start a session for one row (SD59x18 integers, packed off chain as for predictPacked)."""
    packed = deployed.compiled.backend.pack_row(row)
    if not isinstance(packed, bytes):
        raise Ml2scError("stepped inference takes packed int8 rows (predictPacked's bytes)")
    tx = _send(deployed, selector("begin(bytes)") + encode(["bytes"], [packed]), "begin")
    deployed.gas.inference.append(tx.gas_used)
    deployed.gas.inference_exec.append(tx.execution_gas)
    session, state = decode(["uint256", "bytes"], tx.output)
    return Session(session, 0, state)


def advance(deployed: DeployedModel, s: Session, count: int | None = None) -> Session:
    """Send up to ``count`` steps (all that remain by default); returns where the session stands."""
    total = steps_of(deployed)
    while s.next < total and (count is None or count > 0):
        tx = _send(deployed, selector("step(uint256,bytes)") + encode(["uint256", "bytes"], [s.id, s.state]),
                   f"step {s.next} of {total}")
        deployed.gas.inference.append(tx.gas_used)
        deployed.gas.inference_exec.append(tx.execution_gas)
        s = Session(s.id, s.next + 1, decode(["bytes"], tx.output)[0])
        count = None if count is None else count - 1
    return s


def outputs(s: Session) -> list[int]:
    """The outputs a finished session returned (its last state is the ABI-encoded int256[])."""
    return list(decode(["int256[]"], s.state)[0])


def predict_row(deployed: DeployedModel, row: list[int]) -> list[int]:
    """One row, begin + every step: the contract's outputs."""
    return outputs(advance(deployed, begin(deployed, row)))


def on_chain(deployed: DeployedModel, session: int) -> Session:
    """A session as the chain holds it: the commitment's next step, the state from the last
    ``Step`` event of the session (checked against the commitment)."""
    commit = decode(["bytes32"], deployed._call(selector("sessionCommit(uint256)") + encode(["uint256"], [session]),
                                                  "sessionCommit"))[0]
    value = int.from_bytes(commit, "big")
    if value == 0:
        raise Ml2scError(f"session {session} was never begun on {deployed.address}")
    nxt = value & INDEX_MASK
    events = [decode(["uint256", "bytes"], data) for data in _step_logs(deployed, session)]
    last = [state for index, state in events if index == nxt]
    if not last:
        raise Ml2scError(f"session {session}: no Step event for step {nxt} on chain")
    state = last[-1]
    if int.from_bytes(keccak(state), "big") >> 16 != value >> 16:
        raise Ml2scError(f"session {session}: the last Step event does not match the on-chain commitment")
    return Session(session, nxt, state)


def resume(deployed: DeployedModel, session: int) -> list[int]:
    """Finish an interrupted session from what the chain holds; returns its outputs."""
    return outputs(advance(deployed, on_chain(deployed, session)))


def _step_logs(deployed: DeployedModel, session: int) -> list[bytes]:
    """The data of every ``Step`` event of ``session``, oldest first: eth_getLogs on a JSON-RPC
    node, the block receipts on the embedded chain."""
    chain: Any = deployed.chain
    topic1 = "0x" + session.to_bytes(32, "big").hex()
    if hasattr(chain, "rpc"):
        logs = chain.rpc("eth_getLogs", {"fromBlock": "0x0", "toBlock": "latest", "address": deployed.address,
                                         "topics": ["0x" + STEP_TOPIC.hex(), topic1]})
        return [bytes.fromhex(entry["data"][2:]) for entry in logs]
    tester = getattr(chain, "_tester", None)
    if tester is None:
        raise Ml2scError(f"chain '{chain.name}' cannot read logs: resume needs eth_getLogs")
    logs = tester.get_logs(from_block=0, to_block="latest", address=deployed.address,
                           topics=["0x" + STEP_TOPIC.hex(), topic1])
    return [bytes(entry["data"]) if not isinstance(entry["data"], str) else bytes.fromhex(entry["data"][2:])
            for entry in logs]
