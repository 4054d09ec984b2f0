"""Chains: where compiled contracts are deployed and called.

``embedded`` (eth-tester + py-evm, in process), ``anvil`` (spawned from the npm
package) or any JSON-RPC URL, all pinned to the same hardfork so that gas agrees.
The embedded chain and the shared types live in ``ml2sc.chain.base``; the RPC
chains in ``ml2sc.chain.rpc`` (imported when used).
"""

from __future__ import annotations

from ml2sc.chain.base import (
    CHAINS,
    HARDFORK,
    TX_BASE_GAS,
    TX_GAS_CAP,
    Chain,
    ChainError,
    EmbeddedChain,
    PartyChain,
    Reverted,
    TxResult,
    calldata_floor,
    decode_revert,
    describe_revert,
    intrinsic_gas,
    open_chain,
)

__all__ = [
    "CHAINS", "HARDFORK", "TX_BASE_GAS", "TX_GAS_CAP", "Chain", "ChainError", "EmbeddedChain", "PartyChain",
    "Reverted", "TxResult", "calldata_floor", "decode_revert", "describe_revert", "intrinsic_gas", "open_chain",
]  # fmt: skip
