"""Test helpers: map a canonical package's bytes to regions, and write raw zips that skip our checks."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

_LOCAL = struct.Struct("<4sHHHHHIIIHH")
_CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")
_EOCD = struct.Struct("<4sHHHHIIH")
DOS_DATE = 0x21


@dataclass(frozen=True)
class Region:
    kind: str  # local-header, data, central, eocd
    member: str | None
    start: int
    end: int


def regions(data: bytes) -> list[Region]:
    """Split a canonical zip into local headers, member data, central records and the end record."""
    _, _, _, _, n, _, cd_offset, _ = _EOCD.unpack_from(data, len(data) - _EOCD.size)
    out: list[Region] = []
    pos = cd_offset
    for _ in range(n):
        fields = _CENTRAL.unpack_from(data, pos)
        name_len, offset, csize = fields[10], fields[16], fields[8]
        name = data[pos + _CENTRAL.size : pos + _CENTRAL.size + name_len].decode()
        out.append(Region("central", name, pos, pos + _CENTRAL.size + name_len))
        header_end = offset + _LOCAL.size + name_len
        out.append(Region("local-header", name, offset, header_end))
        out.append(Region("data", name, header_end, header_end + csize))
        pos += _CENTRAL.size + name_len
    out.append(Region("eocd", None, len(data) - _EOCD.size, len(data)))
    return sorted(out, key=lambda r: r.start)


def raw_zip(members: list[tuple[bytes, bytes, bool]], *, flags: int = 0) -> bytes:
    """A zip in our canonical layout but with NO name/duplicate/limit checks (to build hostile archives).

    members: (raw name, uncompressed data, deflate?).
    """
    body = bytearray()
    central = bytearray()
    for name, data, deflate in members:
        crc = zlib.crc32(data)
        stored = zlib.compress(data, 9)[2:-4] if deflate else data
        method = 8 if deflate else 0
        offset = len(body)
        body += _LOCAL.pack(b"PK\x03\x04", 20, flags, method, 0, DOS_DATE, crc, len(stored), len(data), len(name), 0)
        body += name + stored
        central += _CENTRAL.pack(
            b"PK\x01\x02",
            20,
            20,
            flags,
            method,
            0,
            DOS_DATE,
            crc,
            len(stored),
            len(data),
            len(name),
            0,
            0,
            0,
            0,
            0,
            offset,
        )
        central += name
    eocd = _EOCD.pack(b"PK\x05\x06", 0, 0, len(members), len(members), len(central), len(body), 0)
    return bytes(body + central + eocd)


def members_of(data: bytes) -> list[tuple[str, bytes, bool]]:
    """(name, uncompressed bytes, deflated?) for each member of a canonical zip, in order."""
    out = []
    for region in regions(data):
        if region.kind != "data":
            continue
        header = _LOCAL.unpack_from(data, region.start - _LOCAL.size - len(region.member or ""))
        raw = data[region.start : region.end]
        deflated = header[3] == 8
        out.append((region.member or "", zlib.decompress(raw, -15) if deflated else raw, deflated))
    return out
