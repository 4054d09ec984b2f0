"""Gas schedules of the forks ``ml2sc estimate`` prices for: Prague, Osaka, Glamsterdam.

We measure on py-evm's Prague (``chain.base.HARDFORK``); no Python EVM runs Osaka or
Glamsterdam yet. So a fork here is Prague plus the few parameters that move the gas of
what ml2sc deploys and calls, and a counted Prague transaction (``TxCount``: its
execution gas and the events those parameters price) is re-priced with them
(``price``). The sources of every figure are in ``docs/cost-model.md``.

- Osaka (Fusaka, mainnet December 2025) changes no cost our contracts pay: its gas
  changes are MODEXP (EIP-7883) and a new P-256 precompile (EIP-7951), which the
  contracts never call, and CLZ (EIP-7939), which solc emits only for an ``osaka``
  target. It adds the per-transaction cap of 16,777,216 gas (EIP-7825).
- Glamsterdam is **provisional** (the values are those of the 2026 devnets and may
  still move): EIP-7954 raises the code limit to 64 KiB (initcode 128 KiB); EIP-8037
  meters state creation separately at 1,530 gas a state byte (a code byte is one state
  byte, plus 6 gas a word to hash it; a new account 120 bytes, a new storage slot 64)
  and exempts that state gas from the EIP-7825 cap; EIP-8038 raises a cold account
  access to 3,000 and charges EXTCODECOPY 100 more (EXTCODESIZE too, which the model
  contracts never execute: py-evm books it as EXTCODEHASH, so it is not counted); EIP-7976 raises the
  calldata floor to 64 gas a byte. EIP-2780 (a cheaper intrinsic cost) is not
  applied: its numbers changed three times in 2026 (a transaction would pay up to
  9,000 less).
"""

from __future__ import annotations

from dataclasses import dataclass

from ml2sc.ir.errors import Ml2scError

TX_GAS_CAP = 16_777_216  # EIP-7825
PRAGUE_COLD_ACCOUNT = 2_600  # EIP-2929
PRAGUE_CODE_DEPOSIT = 200  # per byte (yellow paper G_codedeposit)
PRAGUE_CREATE = 32_000  # contract creation (yellow paper G_txcreate)
PRAGUE_SSTORE_SET = 20_000  # SSTORE 0 -> non-zero (EIP-2200 SSTORE_SET_GAS)


@dataclass(frozen=True)
class GasSchedule:
    """The parameters of one fork that the gas of ml2sc's transactions depends on."""

    name: str
    code_size_limit: int  # EIP-170 / EIP-7954
    initcode_size_limit: int  # EIP-3860 / EIP-7954
    tx_base: int = 21_000
    calldata_zero: int = 4  # EIP-2028
    calldata_nonzero: int = 16
    floor_zero: int = 10  # EIP-7623: 10 a token, a zero byte is 1 token, another byte 4
    floor_nonzero: int = 40
    initcode_word: int = 2  # EIP-3860
    create_regular: int = PRAGUE_CREATE
    create_state: int = 0  # EIP-8037: state gas of the new account
    code_deposit_regular: int = PRAGUE_CODE_DEPOSIT  # per byte
    code_deposit_state: int = 0  # EIP-8037: per byte
    code_hash_word: int = 0  # EIP-8037: hashing the deployed code, per word
    cold_account: int = PRAGUE_COLD_ACCOUNT
    extcode_extra: int = 0  # EIP-8038: EXTCODECOPY/EXTCODESIZE's second read
    sstore_set_regular: int = PRAGUE_SSTORE_SET
    sstore_set_state: int = 0  # EIP-8037
    measured: bool = False  # True only for the fork the embedded EVM runs (Prague)
    provisional: bool = False  # values not final
    source: str = ""

    def calldata(self, data: bytes) -> int:
        zeros = data.count(0)
        return self.calldata_zero * zeros + self.calldata_nonzero * (len(data) - zeros)

    def floor(self, data: bytes) -> int:
        zeros = data.count(0)
        return self.tx_base + self.floor_zero * zeros + self.floor_nonzero * (len(data) - zeros)

    def intrinsic(self, data: bytes, create: bool) -> tuple[int, int]:
        """(regular, state) intrinsic gas of a transaction carrying ``data``."""
        regular = self.tx_base + self.calldata(data)
        if not create:
            return regular, 0
        return regular + self.create_regular + self.initcode_word * ((len(data) + 31) // 32), self.create_state


PRAGUE = GasSchedule(
    "prague", code_size_limit=24_576, initcode_size_limit=49_152, measured=True,
    source="EIP-7600 (Pectra); py-evm 0.12 PragueVM, the EVM ml2sc measures on",
)
OSAKA = GasSchedule(
    "osaka", code_size_limit=24_576, initcode_size_limit=49_152,
    source="EIP-7607 (Fusaka): no gas change for ml2sc's code; EIP-7825 transaction cap",
)
GLAMSTERDAM = GasSchedule(
    "glamsterdam", code_size_limit=65_536, initcode_size_limit=131_072,
    floor_zero=64, floor_nonzero=64,
    create_regular=9_000, create_state=120 * 1_530,
    code_deposit_regular=0, code_deposit_state=1_530, code_hash_word=6,
    cold_account=3_000, extcode_extra=100,
    sstore_set_regular=2_900, sstore_set_state=64 * 1_530,
    provisional=True,
    source="EIP-7954 (64 KiB, glamsterdam-devnet-6), EIP-8037 (CPSB 1,530, glamsterdam-devnet-4), "
           "EIP-8038, EIP-7976; devnet values, not final",
)
FORKS: dict[str, GasSchedule] = {s.name: s for s in (PRAGUE, OSAKA, GLAMSTERDAM)}


def get_fork(name: str) -> GasSchedule:
    try:
        return FORKS[name.lower()]
    except KeyError:
        raise Ml2scError(f"unknown fork '{name}'; known: {', '.join(FORKS)}") from None


@dataclass(frozen=True)
class TxCount:
    """One transaction as the embedded EVM (Prague) ran it, with the events a fork re-prices.

    ``execution`` is the gas the EVM consumed beyond the intrinsic cost, before refunds
    (Prague prices); the counts say how much of it a fork prices differently."""

    data: bytes
    create: bool
    execution: int
    refund: int = 0
    deposit_bytes: int = 0  # code stored (contract creation)
    cold_accounts: int = 0  # first touches of an account (EXTCODECOPY/-HASH/-SIZE, CALLs)
    extcode_reads: int = 0  # EXTCODECOPY and EXTCODESIZE, warm or cold
    sstore_sets: int = 0  # SSTOREs of a zero slot to non-zero
    creates: int = 0  # CREATE/CREATE2 inside the transaction

    def regular_and_state(self, fork: GasSchedule) -> tuple[int, int]:
        """Gas of this transaction under ``fork``, split into regular and (EIP-8037) state gas,
        before the calldata floor and refunds."""
        regular, state = fork.intrinsic(self.data, self.create)
        regular += (self.execution
                    + self.cold_accounts * (fork.cold_account - PRAGUE_COLD_ACCOUNT)
                    + self.extcode_reads * fork.extcode_extra
                    + self.deposit_bytes * (fork.code_deposit_regular - PRAGUE_CODE_DEPOSIT)
                    + (fork.code_hash_word * ((self.deposit_bytes + 31) // 32) if self.deposit_bytes else 0)
                    + self.sstore_sets * (fork.sstore_set_regular - PRAGUE_SSTORE_SET)
                    + self.creates * (fork.create_regular - PRAGUE_CREATE))
        state += (self.deposit_bytes * fork.code_deposit_state + self.sstore_sets * fork.sstore_set_state
                  + self.creates * fork.create_state)
        return regular, state

    def price(self, fork: GasSchedule) -> int:
        """The receipt's gas under ``fork``: regular + state gas less refunds (at most a fifth,
        EIP-3529), or the calldata floor if that is more (EIP-7623)."""
        regular, state = self.regular_and_state(fork)
        used = regular + state
        return max(used - min(self.refund, used // 5), fork.floor(self.data))

    def capped_gas(self, fork: GasSchedule) -> int:
        """The gas that the EIP-7825 cap applies to: all of it, except EIP-8037's state gas."""
        regular, _ = self.regular_and_state(fork)
        return max(regular, fork.floor(self.data))
