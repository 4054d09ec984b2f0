"""Models beyond one contract or one transaction: tile contracts and stepped inference.

Mixed into ``Int8Emitter`` (which provides ``w``, ``m``, ``mem``, ``blob``, ``quant``, ``xbias``,
``dense``, ``inline``, ``split``, ``mut``, ``dots`` and the op lowering). Nothing here runs for
a model that fits in one contract and whose inference fits in one transaction: its code is
exactly what it was before.

**Tiles** (``int8.split = "tiles"``, see ``tiles.py``): each SWAR layer's groups are assembled
into tile contracts, deployed after the data contracts, checked by code hash in the
constructor and STATICCALLed with ``[data contract addresses][layer input words]``.

**Steps** (when the estimated inference exceeds ``STEP_MARGIN`` of ``int8.tx_gas_cap``; see
``steps.py``): the forward pass is cut into ``STEPS`` functions ``_step0 .. _stepN``. ``predict``
and the other entry points still run them all in one call; a caller bound by the cap runs

    begin(bytes q) -> (session, state)         the packed row, unpacked; state = the live values
    step(session, state) -> next               runs step k of the session, k kept on chain
    ...                                        the last step's ``next`` is the ABI int256[] result

The contract stores one word per session: keccak(state) with its low 16 bits replaced by the
next step's index (``sessionCommit``); a step whose state does not hash to it reverts with
``StepState``. Every step emits ``Step(session, next, state)``, so a client that lost its state
resumes from the chain: the commitment says which step is next, the last event holds the state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, NamedTuple

from eth_utils import keccak

from ml2sc.backends.common import shell
from ml2sc.backends.common.evm import CODE_SIZE_LIMIT
from ml2sc.backends.common.evm import AssembledContract as Tile
from ml2sc.backends.common.yul import hex_lit
from ml2sc.backends.int8.entry import INTERFACE, qtype
from ml2sc.backends.int8.layout import CHUNK
from ml2sc.backends.int8.steps import (
    COLD,
    STEP_MARGIN,
    TX_BASE,
    TX_GAS_CAP,
    Region,
    Unit,
    begin_gas,
    dense_pass_gas,
    live_regions,
    memory_gas,
    op_gas,
    plan_steps,
    step_overhead,
    swar_group_gas,
    value_width,
)
from ml2sc.backends.int8.swar import LanePlan, init_word, pack_group, prove_lanes
from ml2sc.backends.int8.tiles import (
    GroupCode,
    InlineGroup,
    InlineTile,
    dot_asm,
    group_asm,
    inline_tile_code,
    lane_requant,
    plan_inline_tiles,
    split_groups,
    tile_code,
)
from ml2sc.ir import ops
from ml2sc.ir.errors import Ml2scError

if TYPE_CHECKING:
    from ml2sc.backends.common.memory import Memory
    from ml2sc.backends.common.solidity import SolidityWriter
    from ml2sc.backends.int8.layout import DataBlob
    from ml2sc.ir.module import Module

STEP_EVENT = "Step(uint256,uint256,bytes)"
STEP_TOPIC = "0x" + keccak(text=STEP_EVENT).hex()
INDEX_BITS = 16  # the commitment's low bits: the next step's index


class InlineCall(NamedTuple):
    """One inline tile as the model calls it, with its estimated gas."""

    tile: InlineTile
    gas: int


def _group_requant(plan: LanePlan, bias: list[int], mult: tuple, shift: tuple, z: int, rq: ops.Requantize,
                   group: range) -> tuple:
    """(output, its LaneRequant) for each lane of ``group`` (the top lane needs no mask)."""
    return tuple((j, lane_requant(plan, lane, j, lane == len(group) - 1, (bias[j], mult[j], shift[j], z), rq))
                 for lane, j in enumerate(group))


class Session:
    w: SolidityWriter
    m: Module
    mem: Memory
    blob: DataBlob
    quant: ops.Quantize
    xbias: int
    dense: bool
    inline: bool
    split: bool
    mut: str
    n_in: int
    n_out: int
    dots: list[str]
    end: int

    # ------------------------------------------------------------ planning
    def _prepare_tiles(self) -> None:
        """Split models: every SWAR group's words into the blob (layers first, in order), and
        what a tile needs of each group (``GroupCode``), its gas and its code size."""
        self.tile_table = 0
        self.tile_list: list[Tile] = []
        self.tiles_of: dict[int, list[int]] = {}
        self._groups: dict[int, tuple[list[GroupCode], list[int]]] = {}
        self.inline_calls: list[InlineCall] = []
        if not self.split:
            return
        if self.dense:
            raise Ml2scError("int8 backend: tile contracts hold SWAR layers (split=tiles needs layout=swar)")
        if self.inline:
            self._prepare_inline_tiles()
            return
        for i, _op, rows, plan, requant in self._swar_layers():
            n_in = len(rows[0])
            codes, gas = [], []
            for group in plan.groups(len(rows)):
                words = pack_group(rows, group, plan)
                offset = self.blob.add(b"".join(v.to_bytes(32, "big") for v in words))
                copies = tuple(self.blob.copies(offset, 32 * n_in, 0))
                codes.append(GroupCode(copies, init_word(group, plan), requant(group)))
                gas.append(swar_group_gas(n_in, len(group), len(copies)))
            self._groups[i] = (codes, gas)
        self.tile_table = -(-len(self.blob.data) // CHUNK)  # the data contracts holding group words

    def _swar_layers(self) -> Iterator[tuple[int, ops.QGemm, list[list[int]], LanePlan, Callable[[range], tuple]]]:
        """Each qgemm as tile contracts need it: its index, the op, its integer weight rows, its
        lane plan, and a group's per-output requantization ((output, LaneRequant) per lane; when
        X holds q + 128, the bias folds the 128 in)."""
        for i, op in enumerate(self.m.ops):
            if not isinstance(op, ops.QGemm):
                continue
            rq = self.m.users(op.result)[0]
            assert isinstance(rq, ops.Requantize)
            rows = self.m.constant(op.weight).rows()
            xb = self.xbias if op.input == self.quant.result else 0
            plan = prove_lanes(rows, -128 + xb, 127 + xb, op.lanes, f"qgemm {op.result} ({len(rows[0])} inputs)")
            bias = [b - xb * sum(row) for b, row in zip(self.m.constant(op.bias).values, rows, strict=True)]
            mult, shift = self.m.constant(rq.multiplier).values, self.m.constant(rq.shift).values
            z = qtype(rq.result.type.element).zero_point
            yield i, op, rows, plan, partial(_group_requant, plan, bias, mult, shift, z, rq)

    def _prepare_inline_tiles(self) -> None:
        """Inline weights over EIP-170: each layer's SWAR words as immediates in tile contracts
        (``tiles.plan_inline_tiles``: the layer's stream of words cut into the fewest tiles; a
        group cut between two tiles hands its accumulator from one to the next through the
        model's memory). No data contracts: ~4 gas a word of cold code access instead of the
        data layout's copy (3) and cold data access (~3.4), and 17 gas a word instead of 20."""
        for i, op, rows, plan, requant in self._swar_layers():
            n_in = len(rows[0])
            rq = self.m.users(op.result)[0]
            groups = [InlineGroup(tuple(pack_group(rows, g, plan)), init_word(g, plan), requant(g), g.start)
                      for g in plan.groups(len(rows))]
            self.tiles_of[i] = []
            for tile in plan_inline_tiles(groups, n_in):
                code = inline_tile_code(tile, groups, n_in)
                if len(code) > CODE_SIZE_LIMIT:
                    raise Ml2scError(f"int8 backend: tile contract of {len(code):,} bytes over {CODE_SIZE_LIMIT:,} "
                                     "(a planning bug)")
                self.tiles_of[i].append(len(self.tile_list))
                self.tile_list.append(Tile(rq.result.name, op.input.name, n_in, tile.start, tile.stop, code))
                words = sum(1 for sg in tile.segments for w in groups[sg.g].words[sg.lo:sg.hi] if w)
                self.inline_calls.append(InlineCall(tile, COLD + 300 + 17 * words + 45 * (tile.stop - tile.start)))

    def _units(self, tiles: dict[int, list[range]]) -> list[Unit]:
        units: list[Unit] = []
        for i, op in enumerate(self.m.ops):
            if i == 0 or isinstance(op, ops.Requantize):
                continue
            if not isinstance(op, ops.QGemm):
                units.append(Unit(i, 0, 1, op_gas(op, self.m)))
                continue
            n_out, n_in = self.m.constant(op.weight).type.shape
            if self.split:
                gas = self._groups[i][1]
                for t, r in enumerate(tiles[i]):  # the call (cold), the input copied, the tile's own memory, its groups
                    memory = memory_gas(32 * (n_in + op.lanes * len(r)))
                    units.append(Unit(i, t, t + 1, COLD + 6 * n_in + 600 + memory + sum(gas[g] for g in r)))
            elif self.dense:
                from ml2sc.backends.int8.dense import RECORD_BYTES, plan_dense

                for k, p in enumerate(plan_dense(n_out, n_in, "").passes):
                    units.append(Unit(i, k, k + 1, 8 * n_in + dense_pass_gas(p.words, p.per_word, p.bundles, p.outputs, 2,
                                                                             RECORD_BYTES * p.outputs)))
            else:
                n_groups = -(-n_out // op.lanes)
                for g in range(n_groups):
                    lanes = min(op.lanes, n_out - g * op.lanes)
                    units.append(Unit(i, g, g + 1, swar_group_gas(n_in, lanes, 0 if self.inline else 2)))
        return units

    def _regions(self) -> dict[str, tuple[int, int, int, bool]]:
        """Every value the state may carry: name -> (address, values, bytes a value, signed)."""
        out = {self.quant.result.name: (self.mem.address(self.quant.result.name), self.n_in, 1, not self.xbias)}
        for op in self.m.ops[1:]:
            if isinstance(op, ops.QGemm):
                continue
            width, signed = value_width(op.result.type.element)
            out[op.result.name] = (self.mem.address(op.result.name), max(op.result.type.size, 1), width, signed)
        return out

    def _plan(self) -> None:
        """Tiles by code size, then steps if one inference would exceed the cap (tiles then also by gas)."""
        self.cap = int(self.m.attribute("int8.tx_gas_cap", str(TX_GAS_CAP)))
        self.steps: list[tuple[int, int]] = []
        self.units: list[Unit] = []
        if self.inline_calls:
            rest = sum(op_gas(op, self.m) for op in self.m.ops[1:] if not isinstance(op, ops.QGemm | ops.Requantize))
            self.one_shot_gas = (TX_BASE + 40 * self.n_in + 3_000 + rest + memory_gas(self.end)
                                 + sum(c.gas for c in self.inline_calls))
            if self.one_shot_gas > STEP_MARGIN * self.cap:
                raise Ml2scError(f"int8: one inference with inline weights takes ~{self.one_shot_gas:,} gas (estimated), over "
                                 f"{STEP_MARGIN:.0%} of the {self.cap:,} per-transaction cap; inline tiles do not run in "
                                 "steps: use weights=data")
            return
        fixed = {i: dot_asm(self.m.ops[i].input.type.size, self.tile_table).size() + 16 for i in self._groups}
        sizes = {i: [self._group_size(i, k) for k in range(len(codes))] for i, (codes, _) in self._groups.items()}
        tiles = {i: split_groups(sizes[i], self._groups[i][1], fixed[i], None) for i in self._groups}
        units = self._units(tiles)
        one_shot = TX_BASE + 40 * self.n_in + 3_000 + 40 * self.tile_table + sum(u.gas for u in units) + memory_gas(self.end)
        regions = self._regions()
        if one_shot > STEP_MARGIN * self.cap:
            every = [Region(key, *spec) for key, spec in regions.items()]  # the worst step: everything in and out
            budget = int(STEP_MARGIN * self.cap) - step_overhead([("load", r) for r in every] + [("save", r) for r in every],
                                                                 self.end, self.tile_table)
            if self.split:
                tiles = {i: split_groups(sizes[i], self._groups[i][1], fixed[i], budget) for i in self._groups}
                units = self._units(tiles)
            live = [live_regions(self.m, u, regions) for u in units] + [[]]
            self.live = live
            self.units = units

            def overhead(u0: int, u1: int) -> int:
                return step_overhead(self._state_moves(u0, u1), self.end, self.tile_table)

            self.steps = plan_steps(units, overhead, self.cap)
            if len(self.steps) >= 1 << INDEX_BITS:
                raise Ml2scError(f"int8: {len(self.steps):,} steps of at most {self.cap:,} gas: more than a session counts "
                                 f"({(1 << INDEX_BITS) - 1:,}); raise --tx-gas-cap")
            begin = begin_gas(self.n_in, sum(r.nbytes for r in live[0]), self.end)
            if begin > self.cap:
                raise Ml2scError(f"int8: begin() needs ~{begin:,} gas (the row, the first state, a new session), over "
                                 f"the per-transaction cap of {self.cap:,}")
        self.units = units
        self.one_shot_gas = one_shot
        for i, ranges in tiles.items():
            op = self.m.ops[i]
            rq = self.m.users(op.result)[0]
            codes = self._groups[i][0]
            n_in = self.m.constant(op.weight).type.shape[1]  # type: ignore[attr-defined]
            self.tiles_of[i] = []
            for r in ranges:
                group_codes = [codes[g] for g in r]
                start = min(j for g in group_codes for j, _ in g.lanes)
                stop = max(j for g in group_codes for j, _ in g.lanes) + 1
                rel = [GroupCode(g.copies, g.init, tuple((j - start, lr) for j, lr in g.lanes)) for g in group_codes]
                code = tile_code(rel, n_in, self.tile_table, stop - start)
                if len(code) > CODE_SIZE_LIMIT:
                    raise Ml2scError(f"int8 backend: tile contract of {len(code):,} bytes over {CODE_SIZE_LIMIT:,} (a planning bug)")
                self.tiles_of[i].append(len(self.tile_list))
                self.tile_list.append(Tile(rq.result.name, op.input.name, n_in, start, stop, code))  # type: ignore[attr-defined]

    def _produced(self, u0: int, u1: int) -> set[str]:
        """The values units u0..u1-1 write (a qgemm: its requantized result)."""
        out = set()
        for u in self.units[u0:u1]:
            op = self.m.ops[u.op]
            out.add(self.m.users(op.result)[0].result.name if isinstance(op, ops.QGemm) else op.result.name)
        return out

    def _state_moves(self, u0: int, u1: int) -> list[tuple[str, Region]]:
        """What step u0..u1-1 does with the state: ("load", r) for each region coming in, then for
        each going out ("keep", r) (unchanged: its bytes copied from calldata) or ("save", r);
        ("result", None) after the last unit."""
        ins, produced = self.live[u0], self._produced(u0, u1)
        moves: list[tuple[str, Region]] = [("load", r) for r in ins]
        if u1 >= len(self.units):
            return [*moves, ("result", Region("RESULT", self.mem.address("RESULT"), 2 + self.n_out, 32, True))]
        keys = {r.key for r in ins}
        return moves + [("keep" if r.key in keys and r.key not in produced else "save", r) for r in self.live[u1]]

    def expected_state(self, k: int, values: dict[str, list[int]]) -> bytes:
        """The state ``begin``/step k-1 hands to step k, from the simulator's values of the row
        (``simulator.run_row``): each live value's bytes, outputs a layer has not computed yet 0.
        What the tests compare the chain's states with; anyone can check a state so."""
        u0 = self.steps[k][0]
        unit = self.units[u0]
        op = self.m.ops[unit.op]
        partial = None
        if unit.lo > 0 and isinstance(op, ops.QGemm):
            partial = self.m.users(op.result)[0].result.name
        out = bytearray()
        for r in self.live[u0]:
            done = self._outputs_before(unit) if r.key == partial else r.n
            bias = self.xbias if r.key == self.quant.result.name else 0
            for j in range(r.n):
                v = values[r.key][j] + bias if j < done else 0
                out += (v % (1 << (8 * r.width))).to_bytes(r.width, "big")
        return bytes(out)

    def _outputs_before(self, unit: Unit) -> int:
        """How many outputs of a qgemm its units before ``unit`` computed."""
        op = self.m.ops[unit.op]
        assert isinstance(op, ops.QGemm)
        if self.split:
            return self.tile_list[self.tiles_of[unit.op][unit.lo]].start
        if self.dense:
            from ml2sc.backends.int8.dense import plan_dense

            return plan_dense(*self.m.constant(op.weight).type.shape, "").passes[unit.lo].first_output
        return unit.lo * op.lanes

    def _group_size(self, i: int, k: int) -> int:
        return group_asm(self._groups[i][0][k], k, self.tile_table, 0x10000).size()

    # ------------------------------------------------------------ code
    def _tile_label(self, t: int) -> str:
        """``tile<t>:<layer>[start:stop]``, the outputs it computes (``+acc``: and a group's
        accumulator it hands to the next tile)."""
        tile = self.tile_list[t]
        carries = t < len(self.inline_calls) and self.inline_calls[t].tile.carries
        return f"tile{t}:{self.mem.name(tile.value)}[{tile.start}:{tile.stop}]" + ("+acc" if carries else "")

    def _qgemm_tiles(self, op: ops.QGemm, lo: int, hi: int | None) -> None:
        i = self.m.ops.index(op)
        n_in = op.input.type.size
        if self.inline_calls:
            self._qgemm_inline_tiles(op, i)
            return
        for t in self.tiles_of[i][lo:hi]:
            tile = self.tile_list[t]
            self.w.line(f"_tile(T{t}, {self.mem.at(op.input.name)}, {n_in}, {self.mem.at(tile.value, tile.start)}, "
                        f"{tile.n_outputs}); // outputs {tile.start}..{tile.stop - 1}, {len(tile.code):,} bytes")

    def _qgemm_inline_tiles(self, op: ops.QGemm, i: int) -> None:
        """The layer's inline tiles in order; a tile's outputs (and the accumulator it carries to
        the next, right after them) land in the layer's output region."""
        n_in = op.input.type.size
        for t in self.tiles_of[i]:
            tile = self.inline_calls[t].tile
            first, last = tile.segments[0], tile.segments[-1]
            what = f"outputs {tile.start}..{tile.stop - 1}" if tile.stop > tile.start else "no output"
            cuts = ([f"group {first.g} from input {first.lo}"] if first.lo else []) + (
                [f"group {last.g} to input {last.hi - 1}"] if last.hi < n_in else [])
            if cuts:
                what += f" ({', '.join(cuts)})"
            value = self.tile_list[t].value
            self.w.line(f"_tileInline(T{t}, {self.mem.at(op.input.name)}, {n_in}, {self.mem.at(value, tile.start)}, "
                        f"{tile.returned}); // {what}, {len(self.tile_list[t].code):,} bytes")

    def _stepped_forward(self) -> None:
        w = self.w
        w.comment(f"The forward pass in {len(self.steps)} steps (one transaction each through begin/step, or all at once).")
        with w.block(f"function _forward() private {self.mut}"):
            if self.split and self.tile_table:
                w.line("_dataTable();")
            for k in range(len(self.steps)):
                w.line(f"_step{k}();")
        for k, (u0, u1) in enumerate(self.steps):
            w.blank()
            units = self.units[u0:u1]
            w.comment(f"Step {k}: ~{sum(u.gas for u in units):,} gas of kernels (estimated).")
            with w.block(f"function _step{k}() private {self.mut}"):
                swar = any(isinstance(self.m.ops[u.op], ops.QGemm) for u in units) and not (self.dense or self.split)
                if swar and not self.inline:
                    w.line("uint256 acc; // the SWAR accumulator of the current group")
                n = 0
                while n < len(units):
                    u, last = units[n], n
                    while last + 1 < len(units) and units[last + 1].op == u.op:
                        last += 1
                    op = self.m.ops[u.op]
                    if isinstance(op, ops.QGemm):
                        w.comment(self._describe(op) + (f" (part {u.lo}..{units[last].hi - 1})" if u.lo or
                                                        last + 1 < len(units) else ""))  # type: ignore[attr-defined]
                        self._qgemm(op, u.lo, units[last].hi)  # type: ignore[attr-defined]
                    else:
                        w.comment(self._describe(op))  # type: ignore[attr-defined]
                        self.lower(op)  # type: ignore[attr-defined]
                    n = last + 1
                if k == len(self.steps) - 1:
                    sources = [self.mem.at(o.value.name) for o in self.m.outputs]
                    shell.write_result(w, self.mem.address("RESULT"), self.slots, sources)  # type: ignore[attr-defined]
        for dot in self.dots:
            w.blank()
            w.lines(dot.split("\n"))

    def _session_conventions(self) -> dict[str, object]:
        names = [f"data{k}" for k in range(len(self.blob.runtimes()))]
        names += [self._tile_label(t) for t in range(len(self.tile_list))]
        meta = {"abi_interface": f"ml2sc/{INTERFACE}.sol:{INTERFACE}", "data_bytes": str(len(self.blob.data)),
                "weights": self.m.attribute("int8.weights") or "", "weights_why": self.m.attribute("int8.weights.why") or "",
                "layout": self.m.attribute("int8.layout") or "swar", "layout_why": self.m.attribute("int8.layout.why") or ""}
        if self.split:
            meta |= {"split": "tiles", "split_why": self.m.attribute("int8.split.why") or "", "tiles": str(len(self.tile_list))}
        if self.steps:
            meta |= {"steps": str(len(self.steps)), "tx_gas_cap": str(self.cap),
                     "steps_why": f"one inference ~{self.one_shot_gas:,} gas (estimated) > {STEP_MARGIN:.0%} of the "
                                  f"{self.cap:,} cap: {len(self.steps)} steps"}
        elif self.cap != TX_GAS_CAP:
            meta["tx_gas_cap"] = str(self.cap)
        return {"input_decimals": 18, "packed_input_bytes": 1,
                "data_contracts": self.blob.runtimes() + tuple(t.code for t in self.tile_list),
                "data_contract_names": tuple(names), "metadata": meta}

    def _session_constants(self) -> None:
        w = self.w
        for t in range(len(self.tile_list)):
            w.line(f"address internal immutable T{t}; // {self._tile_label(t)}, {len(self.tile_list[t].code):,} bytes")
        if self.tile_list and not self.inline_calls:
            w.line(f"uint256 internal constant TILE_X = {hex_lit(self.mem.address('TILEIN', self.tile_table))}; "
                   "// a tile's input words, after the addresses")
            w.blank()
        if not self.steps:
            return
        w.comment("Stepped inference (begin/step): the state between steps lives in calldata and events; the")
        w.comment("contract keeps keccak(state) with the next step's index in the low 16 bits, per session.")
        w.line(f"uint256 public constant STEPS = {len(self.steps)};")
        w.line("uint256 internal constant STATE = MEM_END; // [next step][0x40][length][state bytes]")
        w.line(f"bytes32 internal constant STEP_TOPIC = {STEP_TOPIC}; // keccak256(\"{STEP_EVENT}\")")
        w.line("/// @notice The state sent to step() is not the one the session's last step produced (or the session is unknown or done).")
        w.line("error StepState(uint256 session, uint256 next);")
        w.line("/// @notice A session moved to step `next`; `state` is what step() takes next (the last: the ABI-encoded outputs).")
        w.line("event Step(uint256 indexed session, uint256 next, bytes state);")
        w.line("/// @notice Sessions begun so far (the last session's id).")
        w.line("uint256 public sessions;")
        w.line("/// @notice Per session: keccak256(state) with its low 16 bits replaced by the next step's index.")
        w.line("mapping(uint256 => bytes32) public sessionCommit;")
        w.blank()

    def _constructor(self) -> None:
        if getattr(self, "book", False):
            self._book_constructor()
            return
        if not self.tile_list:
            super()._constructor()  # type: ignore[misc]
            return
        w = self.w
        codes = list(self.blob.runtimes()) + [t.code for t in self.tile_list]
        n_data = len(self.blob.runtimes())
        w.comment("The data contracts, then the tile contracts, deployed first; each one's code hash is checked")
        w.comment("against what this compiler produced (the weights, the assembled tiles).")
        with w.block("constructor(address[] memory data)"):
            w.line(f"if (data.length != {len(codes)}) revert {INTERFACE}.DataContracts({len(codes)}, data.length);")
            for k, code in enumerate(codes):
                w.line(f"if (data[{k}].codehash != 0x{keccak(code).hex()}) revert {INTERFACE}.DataContractHash({k});")
                w.line(f"{'D' if k < n_data else 'T'}{k if k < n_data else k - n_data} = data[{k}];")
        w.blank()

    def _book_constructor(self) -> None:
        """Many data contracts: their code hashes checked in a loop against one constant, then their
        addresses written, 20 bytes each, as the code of an address book this constructor creates
        (SSTORE2 style, the driver's data_initcode), kept in the immutable BOOK."""
        w, codes = self.w, self.blob.runtimes()
        n = len(codes)
        w.comment(f"The {n} data contracts' code hashes, back to back (checked in the constructor).")
        w.line(f'bytes internal constant HASHES = hex"{"".join(keccak(c).hex() for c in codes)}";')
        w.blank()
        w.comment("The data contracts, deployed first: each one's code hash checked against the compiled weights;")
        w.comment("their addresses then become the code of the address book (PUSH2 len DUP1 PUSH1 10 PUSH0 CODECOPY")
        w.comment("PUSH0 RETURN, a STOP byte, 20 bytes an address).")
        with w.block("constructor(address[] memory data)"):
            w.line(f"if (data.length != {n}) revert {INTERFACE}.DataContracts({n}, data.length);")
            w.line("bytes memory hashes = HASHES;")
            with w.block(f"for (uint256 k; k < {n}; ++k)"):
                w.line("bytes32 h;")
                w.line('assembly ("memory-safe") { h := mload(add(add(hashes, 0x20), shl(5, k))) }')
                w.line(f"if (data[k].codehash != h) revert {INTERFACE}.DataContractHash(k);")
            w.line("address book;")
            with w.block('assembly ("memory-safe")'):
                w.line(f"let p := mload(0x40) let len := {hex_lit(20 * n + 1)}")
                w.line("mstore(p, or(or(shl(248, 0x61), shl(232, len)), shl(176, 0x80600a5f395ff3)))")
                w.line(f"for {{ let k := 0 }} lt(k, {n}) {{ k := add(k, 1) }} "
                       "{ mstore(add(p, add(11, mul(20, k))), shl(96, mload(add(data, add(0x20, shl(5, k)))))) }")
                w.line("book := create(0, p, add(10, len))")
                w.line("if iszero(book) { revert(0, 0) }")
            w.line("BOOK = book;")
        w.blank()

    def _session_entry_points(self) -> None:
        if not self.steps:
            return
        w = self.w
        live0 = self.live[self.steps[0][0]]
        w.comment("begin: a packed row (as predictPacked) starts a session; returns its id and the first state.")
        with w.block("function begin(bytes calldata q) external returns (uint256 session, bytes memory /* state */)"):
            w.line("if (q.length != N_IN) _lengthError(N_IN, q.length);")
            w.line("uint256 offset;")
            w.line('assembly ("memory-safe") { mstore(0x40, MEM_END) offset := q.offset }')
            w.line("_unpack(offset);")
            w.line("session = ++sessions;")
            expr = "(STATE + 0x60)"
            for r in live0:
                expr = self._save_call(expr, r)
            w.line(f"uint256 len = {expr} - (STATE + 0x60);")
            w.line("_commit(session, 0, len);")
            w.line("assembly { mstore(STATE, session) return(STATE, add(0x60, and(add(len, 31), not(31)))) }")
        w.blank()
        w.comment("step: runs the session's next step on `state` (what the last step or begin returned);")
        w.comment("returns the next state, or after the last step the ABI-encoded int256[] outputs.")
        with w.block("function step(uint256 session, bytes calldata state) external returns (bytes memory /* next */)"):
            w.line('assembly ("memory-safe") { mstore(0x40, MEM_END) }')
            w.line("uint256 c = uint256(sessionCommit[session]);")
            w.line(f"uint256 k = c & {hex_lit((1 << INDEX_BITS) - 1)};")
            w.line(f"if (c == 0 || k >= STEPS || (uint256(keccak256(state)) ^ c) >> {INDEX_BITS} != 0) revert StepState(session, k);")
            w.line("uint256 src;")
            w.line("uint256 len;")
            w.line('assembly ("memory-safe") { src := state.offset }')
            if any(kind == "keep" for u0, u1 in self.steps for kind, _ in self._state_moves(u0, u1)):
                w.line("uint256 base = src; // where the incoming state starts (values kept as they are are copied from it)")
            if self.split and self.tile_table:
                w.line("_dataTable();")
            for k, (u0, u1) in enumerate(self.steps):
                head = "if (k == 0)" if k == 0 else ("else" if k == len(self.steps) - 1 else f"else if (k == {k})")
                with w.block(head):
                    moves = self._state_moves(u0, u1)
                    offsets, at = {}, 0
                    for kind, r in moves:
                        if kind == "load":
                            offsets[r.key] = at
                            at += r.nbytes
                            w.line(f"{self._load_call(r, 'src')}; // {self.mem.name(r.key)}")
                    w.line(f"_step{k}();")
                    if k < len(self.steps) - 1:
                        expr = "(STATE + 0x60)"
                        for kind, r in moves:
                            if kind == "keep":
                                expr = f"_keep({expr}, base + {offsets[r.key]}, {r.nbytes})"
                            elif kind == "save":
                                expr = self._save_call(expr, r)
                        w.line(f"len = {expr} - (STATE + 0x60);")
                    else:
                        w.line('assembly ("memory-safe") { mcopy(add(STATE, 0x60), RESULT, RESULT_BYTES) }')
                        w.line("len = RESULT_BYTES;")
            w.line("_commit(session, k + 1, len);")
            w.line("assembly { mstore(add(STATE, 0x20), 0x20) return(add(STATE, 0x20), add(0x40, and(add(len, 31), not(31)))) }")
        w.blank()

    def _save_call(self, dst: str, r: Region) -> str:
        """Region ``r`` written to the state at ``dst``; the expression is the end."""
        if r.width == 1:
            return f"_save8({dst}, {self.mem.at(r.key)}, {r.n})"
        return f"_save({dst}, {self.mem.at(r.key)}, {r.n}, {r.width})"

    def _load_call(self, r: Region, src: str) -> str:
        """``src = ...``: region ``r`` read from the state at calldata offset ``src``."""
        signed = "Signed" if r.signed and r.width < 32 else ""
        if r.width == 1:
            return f"src = _load8{signed}({src}, {self.mem.at(r.key)}, {r.n})"
        return f"src = _load{signed}({src}, {self.mem.at(r.key)}, {r.n}, {r.width})"

    def _helper_kinds(self) -> set[str]:
        kinds = set()
        for u0, u1 in self.steps:
            for kind, r in self._state_moves(u0, u1):
                if kind == "load":
                    kinds.add(f"load{'8' if r.width == 1 else ''}{'s' if r.signed and r.width < 32 else ''}")
                elif kind in ("save", "keep"):
                    kinds.add(kind + ("8" if kind == "save" and r.width == 1 else ""))
        kinds |= {"save8" if r.width == 1 else "save" for r in self.live[self.steps[0][0]]}
        return kinds

    def _helpers(self) -> None:
        super()._helpers()  # type: ignore[misc]
        w = self.w
        if self.tile_list:
            w.blank()
            if self.tile_table:
                w.comment("The addresses of the data contracts holding group words, at TILEIN: a tile call's first words.")
                with w.block("function _dataTable() private view"):
                    w.line("address d;")
                    for k in range(self.tile_table):
                        w.line(f'd = D{k}; assembly ("memory-safe") {{ mstore({self.mem.at("TILEIN", k)}, d) }}')
            if self.inline_calls:
                w.comment("Runs an inline tile: calldata is the word before the `n` inputs at `src` (a pad: set to the")
                w.comment("accumulator the previous tile left at `out`, if any) and the inputs, read in place; `count`")
                w.comment("words back to `out`.")
                with w.block("function _tileInline(address t, uint256 src, uint256 n, uint256 out, uint256 count) private view"), \
                        w.block('assembly ("memory-safe")'):
                    w.line("let args := sub(src, 0x20)")
                    w.line("mstore(args, mload(out))")
                    w.line("if iszero(staticcall(gas(), t, args, add(0x20, shl(5, n)), out, shl(5, count))) { revert(0, 0) }")
            else:
                w.comment("Runs a tile contract: the `n` input words at `src` in, `count` output words to `out`.")
                with w.block("function _tile(address t, uint256 src, uint256 n, uint256 out, uint256 count) private view"), \
                        w.block('assembly ("memory-safe")'):
                    w.line("mcopy(TILE_X, src, shl(5, n))")
                    w.line("if iszero(staticcall(gas(), t, TILEIN, add(sub(TILE_X, TILEIN), shl(5, n)), out, shl(5, count))) "
                           "{ revert(0, 0) }")
        if not self.steps:
            return
        w.blank()
        kinds = self._helper_kinds()
        if "load8" in kinds or "load8s" in kinds:
            w.comment("State bytes -> memory, one byte a value (int8): 32 values per calldata word, then the rest.")
        if "load8" in kinds:
            self._load8_function("_load8", "byte({k}, v)")
        if "load8s" in kinds:
            self._load8_function("_load8Signed", "signextend(0, byte({k}, v))")
        if "load" in kinds:
            w.comment("State bytes -> memory: n values of w bytes from calldata offset src, one word each (zero-extended).")
            self._load_function("_load", "v")
        if "loads" in kinds:
            w.comment("As _load, sign-extended.")
            self._load_function("_loadSigned", "signextend(sub(w, 1), v)")
        if "keep" in kinds:
            w.comment("A value the step did not change: its state bytes copied as they came (calldata offset src).")
            with w.block("function _keep(uint256 dst, uint256 src, uint256 n) private pure returns (uint256 last)"):
                w.line('assembly ("memory-safe") { calldatacopy(dst, src, n) last := add(dst, n) }')
        if "save8" in kinds:
            w.comment("Memory -> state bytes, int8: n words from src, the low byte of each to dst; returns the end.")
            with w.block("function _save8(uint256 dst, uint256 src, uint256 n) private pure returns (uint256 last)"), w.block('assembly ("memory-safe")'):
                w.line("for { let k := 0 } lt(k, n) { k := add(k, 1) } { mstore8(add(dst, k), mload(add(src, shl(5, k)))) }")
                w.line("last := add(dst, n)")
        if "save" in kinds:
            w.comment("Memory -> state bytes: n words from src, w bytes each (the low bytes) to dst; returns the end.")
            with w.block("function _save(uint256 dst, uint256 src, uint256 n, uint256 w) private pure returns (uint256 last)"), w.block('assembly ("memory-safe")'):
                w.line("let sh := sub(256, shl(3, w))")
                w.line("for { let k := 0 } lt(k, n) { k := add(k, 1) } { mstore(add(dst, mul(k, w)), shl(sh, mload(add(src, shl(5, k))))) }")
                w.line("last := add(dst, mul(n, w))")
        w.comment("Commits the state at STATE + 0x60 (len bytes) as the session's step `next`, and logs it.")
        with w.block("function _commit(uint256 session, uint256 next, uint256 len) private"):
            w.line("bytes32 h;")
            with w.block('assembly ("memory-safe")'):
                w.line("h := keccak256(add(STATE, 0x60), len)")
                w.line("mstore(add(add(STATE, 0x60), len), 0) // the padding")
                w.line("mstore(STATE, next) mstore(add(STATE, 0x20), 0x40) mstore(add(STATE, 0x40), len)")
                w.line("log2(STATE, add(0x60, and(add(len, 31), not(31))), STEP_TOPIC, session)")
            w.line(f"sessionCommit[session] = bytes32(((uint256(h) >> {INDEX_BITS}) << {INDEX_BITS}) | next);")

    def _load8_function(self, name: str, value: str) -> None:
        w = self.w
        with w.block(f"function {name}(uint256 src, uint256 dst, uint256 n) private pure returns (uint256 next)"), w.block('assembly ("memory-safe")'):
            w.line("let full := and(n, not(31))")
            with w.block("for { let i := 0 } lt(i, full) { i := add(i, 32) }"):
                w.line("let v := calldataload(add(src, i)) let d := add(dst, shl(5, i))")
                stores = [f"mstore({'d' if k == 0 else f'add(d, {hex_lit(32 * k)})'}, {value.format(k=k)})" for k in range(32)]
                for i in range(0, 32, 4):
                    w.line(" ".join(stores[i:i + 4]))
            w.line("for { let i := full } lt(i, n) { i := add(i, 1) } { let v := calldataload(add(src, i)) "
                   f"mstore(add(dst, shl(5, i)), {value.format(k=0)}) }}")
            w.line("next := add(src, n)")

    def _load_function(self, name: str, value: str) -> None:
        w = self.w
        with w.block(f"function {name}(uint256 src, uint256 dst, uint256 n, uint256 w) private pure returns (uint256 next)"), w.block('assembly ("memory-safe")'):
            w.line("let sh := sub(256, shl(3, w))")
            with w.block("for { let k := 0 } lt(k, n) { k := add(k, 1) }"):
                w.line("let v := shr(sh, calldataload(add(src, mul(k, w))))")
                w.line(f"mstore(add(dst, shl(5, k)), {value})")
            w.line("next := add(src, mul(n, w))")
