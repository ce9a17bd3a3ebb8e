"""The video bytes the sim's CDN serves for every result attachment.

``assets/sample.mp4`` is a small ISO-BMFF file (ftyp + moov/mvhd of 4 s + mdat) written by
:func:`build_mp4`; it parses as MP4 (magic ``ftyp`` at offset 4, ``Content-Type: video/mp4``)
but carries no decodable track: no encoder is available on these machines, and the daemon only
downloads and forwards the file.
"""

from __future__ import annotations

import functools
import struct
from pathlib import Path

ASSET = Path(__file__).parent / "assets" / "sample.mp4"


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def build_mp4(duration_ms: int = 4000, padding: int = 2048) -> bytes:
    ftyp = _box(b"ftyp", b"isom" + struct.pack(">I", 0x200) + b"isomiso2mp41")
    matrix = struct.pack(">9I", 0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000)
    mvhd = _box(
        b"mvhd",
        struct.pack(">B3sIIII", 0, b"\x00\x00\x00", 0, 0, 1000, duration_ms)
        + struct.pack(">IH", 0x00010000, 0x0100)  # rate 1.0, volume 1.0
        + b"\x00" * 10  # reserved
        + matrix
        + b"\x00" * 24  # pre_defined
        + struct.pack(">I", 2),  # next_track_ID
    )
    moov = _box(b"moov", mvhd)
    mdat = _box(b"mdat", b"\x00" * padding)
    return ftyp + moov + mdat


@functools.cache
def sample_video() -> bytes:
    try:
        return ASSET.read_bytes()
    except OSError:
        return build_mp4()


if __name__ == "__main__":  # regenerate the committed asset
    ASSET.parent.mkdir(exist_ok=True)
    ASSET.write_bytes(build_mp4())
