"""Where the weights live: the data contracts' bytes and the copies that bring them to memory.

Data contracts (SSTORE2 style): runtime code = one STOP byte (so a call to one
does nothing) followed by up to 24,575 bytes of data, under the EIP-170 limit.
The emitter appends the packed weight words and tables to one blob; the blob is
cut into such chunks, and a byte range of the blob becomes one EXTCODECOPY per
chunk it touches.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ml2sc.backends.common.evm import CODE_SIZE_LIMIT

CHUNK = CODE_SIZE_LIMIT - 1  # data bytes per contract after the STOP byte


@dataclass(frozen=True)
class Copy:
    """extcodecopy(data contract ``contract``, memory ``dst``, code offset ``src``, ``length`` bytes)."""

    contract: int
    src: int
    dst: int
    length: int


@dataclass
class DataBlob:
    """The bytes of every data contract, back to back, with copy plans over them."""

    data: bytearray = field(default_factory=bytearray)

    def add(self, payload: bytes) -> int:
        offset = len(self.data)
        self.data += payload
        return offset

    def copies(self, offset: int, length: int, dst: int) -> list[Copy]:
        """The EXTCODECOPYs that bring blob[offset : offset + length] to memory ``dst``."""
        out = []
        while length > 0:
            k, local = divmod(offset, CHUNK)
            n = min(length, CHUNK - local)
            out.append(Copy(k, 1 + local, dst, n))
            offset, dst, length = offset + n, dst + n, length - n
        return out

    def runtimes(self) -> tuple[bytes, ...]:
        """Each data contract's runtime code: STOP, then its chunk of the blob."""
        blob = bytes(self.data)
        return tuple(b"\x00" + blob[i : i + CHUNK] for i in range(0, len(blob), CHUNK))
