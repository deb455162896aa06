"""Media bytes for tests: noise images (incompressible, so their size is predictable), bombs, GIFs and vCards."""
from __future__ import annotations

import io
import random
import struct
import zlib

from PIL import Image

VCARD = (b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Courrier Support\r\nTEL;TYPE=work:+33140000000\r\n"
         b"EMAIL:support@example.com\r\nEND:VCARD\r\n")


def noise(width: int, height: int, fmt: str = "PNG", mode: str = "RGB", seed: int = 0, **options: object) -> bytes:
    """An image of random pixels in ``fmt``: the worst case for every compressor."""
    rng = random.Random(seed)
    image = Image.frombytes(mode, (width, height), rng.randbytes(width * height * len(mode)))
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def declared_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares ``width`` × ``height`` pixels: a decompression bomb's calling card."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def animated_gif(width: int, height: int, frames: int, seed: int = 0) -> bytes:
    """An animated GIF of noise frames, 80 ms each, looping forever."""
    rng = random.Random(seed)
    images = [Image.frombytes("P", (width, height), rng.randbytes(width * height)) for _ in range(frames)]
    for image in images:
        image.putpalette(bytes(rng.randrange(256) for _ in range(768)))
    buffer = io.BytesIO()
    images[0].save(buffer, "GIF", save_all=True, append_images=images[1:], duration=80, loop=0)
    return buffer.getvalue()
