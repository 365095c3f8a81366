#!/usr/bin/python3
"""BMP corpus for test_formats.c: files written by PIL and by hand (the
layouts PIL does not write: 4-bit, RLE4/RLE8, 16-bit, bit fields with
alpha, OS/2, v4 and v5 headers, top-down), references from PIL 9.4
(Image.open(f).convert("RGB"), or convert("RGBA") composited on the
background where PIL reads alpha). lib/image/bmp.c decodes with
gdk-pixbuf and fixes up where its rules differ from PIL's, so every case
is exact (tolerance 0).

Usage: gen_bmp.py OUTDIR
"""
from __future__ import annotations

import io
import struct
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import WHITE, Corpus, alpha_ramp, picture, pil_rgb  # noqa: E402

BG = (40, 90, 200)
W, H = 37, 23  # odd: row padding and partial bytes of bits


def pil_bmp(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="BMP")
    return buf.getvalue()


def reference(data: bytes, bg=WHITE) -> np.ndarray:
    im = Image.open(io.BytesIO(data))
    return pil_rgb(im, im.mode == "RGBA", bg)


# ------------------------------------------------------- a BMP by hand


def pack_indices(idx: np.ndarray, bits: int) -> list[bytes]:
    rows = []
    for row in idx:
        v = 0
        out = bytearray()
        n = 0
        for i in row:
            v = (v << bits) | int(i)
            n += bits
            if n == 8:
                out.append(v)
                v = n = 0
        if n:
            out.append(v << (8 - n))
        rows.append(bytes(out))
    return rows


def pad(rows: list[bytes]) -> bytes:
    return b"".join(r + b"\0" * (-len(r) % 4) for r in rows)


def rle8_runs(values) -> bytes:
    """RLE8 encoded and absolute runs for a row segment."""
    out = bytearray()
    x, n = 0, len(values)
    while x < n:
        run = 1
        while x + run < n and values[x + run] == values[x] and run < 255:
            run += 1
        if run >= 3 or n - x < 3:
            out += bytes([run, int(values[x])])
            x += run
        else:
            lit = min(n - x, 5)
            out += bytes([0, lit]) + bytes(int(v) for v in values[x:x + lit])
            out += b"\0" * (lit % 2)
            x += lit
    return bytes(out)


def rle8(idx: np.ndarray, skips=False, delta=False, early_end=False) -> tuple[bytes, np.ndarray]:
    """An RLE8 stream (rows bottom-up) and the indices it sets (-1: never
    set). skips: some rows end early; delta: a delta record jumps from
    row 0, x 5 to row 2, x 8; early_end: the bitmap ends in the middle of
    the top row."""
    h, w = idx.shape
    rows = idx[::-1]
    got = np.full_like(rows, -1)
    out = bytearray()
    y = 0
    while y < h:
        row = rows[y]
        if delta and y == 0:
            out += rle8_runs(row[:5]) + bytes([0, 2, 3, 2]) + rle8_runs(rows[2][8:]) + b"\0\0"
            got[0, :5] = row[:5]
            got[2, 8:] = rows[2][8:]
            y = 3
            continue
        n = w - (w // 3 if skips and y % 4 == 1 else 0)
        if early_end and y == h - 1:
            n = w // 2
        out += rle8_runs(row[:n])
        got[y, :n] = row[:n]
        out += b"\0\1" if y == h - 1 else b"\0\0"
        y += 1
    return bytes(out), got[::-1]


def rle4(idx: np.ndarray) -> bytes:
    out = bytearray()
    for row in idx[::-1]:
        x = 0
        while x < len(row):
            a = int(row[x])
            b = int(row[x + 1]) if x + 1 < len(row) else a
            run = min(len(row) - x, 7)
            out += bytes([run, (a << 4) | b])
            x += run
        out += b"\0\0"
    out += b"\0\x01"
    return bytes(out)


def bmp(width: int, height: int, bits: int, pixels: bytes, palette: list | None = None,
        compression=0, header=40, masks: tuple | None = None, top_down=False,
        colors=None) -> bytes:
    """A BMP: file header, info header of `header` bytes (12, 40, 108, 124),
    bit-field masks after a 40-byte header, palette, pixels."""
    h = -height if top_down else height
    if header == 12:
        info = struct.pack("<LHHHH", 12, width, height, 1, bits)
    else:
        info = struct.pack("<LllHHLLllLL", header, width, h, 1, bits, compression, len(pixels),
                           2835, 2835, len(palette or []) if colors is None else colors, 0)
        if header > 40:
            m = list(masks or (0, 0, 0, 0)) + [0] * 4
            info += struct.pack("<LLLL", *m[:4])
            info += struct.pack("<L", 0x73524742)  # 'sRGB'
            info = info.ljust(header, b"\0")
        elif masks:
            info += b"".join(struct.pack("<L", v) for v in masks)
    entry = 3 if header == 12 else 4
    pal = b"".join(bytes([b, g, r]) + b"\0" * (entry - 3) for r, g, b in (palette or []))
    offset = 14 + len(info) + len(pal)
    head = b"BM" + struct.pack("<LHHL", offset + len(pixels), 0, 0, offset)
    return head + info + pal + pixels


def palette_of(n: int, seed: int) -> list[tuple[int, int, int]]:
    rng = np.random.default_rng(seed)
    return [tuple(int(v) for v in rng.integers(0, 256, 3)) for _ in range(n)]


def rows_bgr(arr: np.ndarray, top_down=False) -> list[bytes]:
    rows = arr if top_down else arr[::-1]
    return [r[:, ::-1].tobytes() for r in rows]


# -------------------------------------------------------------- the cases


def add_valid(c: Corpus) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    pic = picture(W, H, seed=6)
    rgb = Image.fromarray(pic)
    a = alpha_ramp(W, H)

    def ok(name, data, bg=WHITE):
        files[name] = data
        c.ok(name, data, reference(data, bg), bg=bg)

    # What PIL writes: 1, 8 (grey and palette), 24 and 32 bits.
    ok("rgb24_pil.bmp", pil_bmp(rgb))
    ok("rgba32_birgb_pil.bmp", pil_bmp(Image.fromarray(np.dstack([pic, a]), "RGBA")), bg=BG)
    ok("grey8_pil.bmp", pil_bmp(rgb.convert("L")))
    ok("palette8_pil.bmp", pil_bmp(rgb.quantize(100)))
    ok("bilevel_pil.bmp", pil_bmp(rgb.convert("1")))
    # Palettes by hand: 1, 4 and 8 bits, short palettes, top-down.
    rng = np.random.default_rng(7)
    for bits in (1, 4, 8):
        n = 1 << bits
        idx = (np.asarray(rgb.convert("L")).astype(np.int64) * n // 256)
        idx = np.clip(idx + rng.integers(0, 2, idx.shape), 0, n - 1)
        pal = palette_of(n, bits)
        ok(f"palette{bits}.bmp", bmp(W, H, bits, pad(pack_indices(idx[::-1], bits)), pal))
        ok(f"palette{bits}_topdown.bmp",
           bmp(W, H, bits, pad(pack_indices(idx, bits)), pal, top_down=True))
        ok(f"palette{bits}_os2.bmp", bmp(W, H, bits, pad(pack_indices(idx[::-1], bits)), pal,
                                         header=12))
    idx8 = np.clip(np.asarray(rgb.convert("L")).astype(np.int64) // 2, 0, 127)
    ok("palette8_128colors.bmp", bmp(W, H, 8, pad(pack_indices(idx8[::-1], 8)),
                                     palette_of(128, 3)))
    ok("palette8_v5.bmp", bmp(W, H, 8, pad(pack_indices(idx8[::-1], 8)), palette_of(128, 4),
                              header=124))
    # RLE8 and RLE4: runs, literal runs, early ends of line and a delta.
    data, _ = rle8(idx8)
    ok("rle8.bmp", bmp(W, H, 8, data, palette_of(128, 5), compression=1))
    data, _ = rle8(idx8, skips=True)
    ok("rle8_skips.bmp", bmp(W, H, 8, data, palette_of(128, 6), compression=1))
    # A delta record: PIL 9.4 reads two bytes too many after it (its
    # BmpRleDecoder reads the offsets twice), so the reference is the BMP
    # specification's: the pixels the stream sets, palette entry 0 elsewhere
    # (which is also what PIL gives unset pixels).
    # PIL refuses a bitmap that ends early ("not enough image data"); the
    # specification (and gdk-pixbuf) leave the rest unset.
    pal = palette_of(128, 7)
    for name, kw in (("rle8_delta.bmp", {"delta": True}), ("rle8_early_end.bmp",
                                                          {"early_end": True})):
        data, got = rle8(idx8, **kw)
        files[name] = bmp(W, H, 8, data, pal, compression=1)
        c.ok(name, files[name], np.array(pal, np.uint8)[np.where(got < 0, 0, got)])
    idx4 = np.asarray(rgb.convert("L")).astype(np.int64) // 16
    ok("rle4.bmp", bmp(W, H, 4, rle4(idx4), palette_of(16, 7), compression=2))
    # 16 bits: 5-5-5 (BI_RGB and bit fields) and 5-6-5.
    r, g, b = (pic[..., k].astype(np.uint16) for k in range(3))
    p555 = ((r >> 3) << 10) | ((g >> 3) << 5) | (b >> 3)
    p565 = ((r >> 3) << 11) | ((g >> 2) << 5) | (b >> 3)
    rows16 = lambda v: pad([row.astype("<u2").tobytes() for row in v[::-1]])  # noqa: E731
    ok("rgb555.bmp", bmp(W, H, 16, rows16(p555)))
    ok("rgb555_bitfields.bmp", bmp(W, H, 16, rows16(p555), compression=3,
                                   masks=(0x7C00, 0x3E0, 0x1F)))
    ok("rgb565_bitfields.bmp", bmp(W, H, 16, rows16(p565), compression=3,
                                   masks=(0xF800, 0x7E0, 0x1F)))
    ok("rgb565_v4.bmp", bmp(W, H, 16, rows16(p565), compression=3, header=108,
                            masks=(0xF800, 0x7E0, 0x1F, 0)))
    # 24 and 32 bits, top-down, v4/v5 headers, alpha by bit fields only.
    ok("rgb24_topdown.bmp", bmp(W, H, 24, pad(rows_bgr(pic, True)), top_down=True))
    ok("rgb24_v5.bmp", bmp(W, H, 24, pad(rows_bgr(pic)), header=124))
    bgra = np.dstack([pic[..., ::-1], a])
    px32 = b"".join(row.tobytes() for row in bgra[::-1])
    ok("rgb32_birgb_alpha_ignored.bmp", bmp(W, H, 32, px32), bg=BG)
    ok("rgb32_birgb_v5.bmp", bmp(W, H, 32, px32, header=124), bg=BG)
    ok("rgba32_v5_bitfields.bmp", bmp(W, H, 32, px32, compression=3, header=124,
                                      masks=(0xFF0000, 0xFF00, 0xFF, 0xFF000000)), bg=BG)
    ok("rgba32_v4_topdown.bmp",
       bmp(W, H, 32, b"".join(row.tobytes() for row in bgra), compression=3, header=108,
           masks=(0xFF0000, 0xFF00, 0xFF, 0xFF000000), top_down=True), bg=BG)
    ok("rgbx32_bitfields.bmp", bmp(W, H, 32, px32, compression=3,
                                   masks=(0xFF0000, 0xFF00, 0xFF)), bg=BG)
    # A larger picture for the fast and limit cases.
    ok("large.bmp", pil_bmp(Image.fromarray(picture(300, 200, seed=8))))
    return files


def add_bad(c: Corpus, files: dict[str, bytes]):
    px = bytes(64)
    c.err("huge_width.bmp", bmp(70000, 2, 24, px), "LIMIT")
    c.err("huge_both.bmp", bmp(40000, 40000, 24, px), "LIMIT")
    c.err("huge_topdown.bmp", bmp(3, 65501, 24, px, top_down=True), "LIMIT")
    c.err("huge_rle8.bmp", bmp(30000, 30000, 8, b"\0\x01", palette_of(2, 1), compression=1),
          "LIMIT")
    c.err("signature_only.bmp", b"BM", "CORRUPT")
    c.err("file_header_only.bmp", files["rgb24_pil.bmp"][:14], "CORRUPT")
    c.err("info_header_cut.bmp", files["rgb24_pil.bmp"][:30], "CORRUPT")
    c.err("bad_header_size.bmp", files["rgb24_pil.bmp"][:14] + b"\x07\0\0\0" + bytes(60),
          "CORRUPT")
    c.err("zero_width.bmp", bmp(0, 4, 24, px), "CORRUPT")
    pal4 = bytearray(files["palette4.bmp"])
    pal4[46:50] = struct.pack("<L", 0xE9E9E9E9)  # gdk-pixbuf sized a buffer by it
    c.err("palette_count_huge.bmp", bytes(pal4), "CORRUPT")
    c.err("truncated_pixels.bmp", files["rgb24_pil.bmp"][:-100], "CORRUPT")
    c.err("truncated_palette8.bmp", files["palette8.bmp"][:len(files["palette8.bmp"]) // 2],
          "CORRUPT")

    seeds = ["rgb24_pil.bmp", "palette4.bmp", "rle8_skips.bmp", "rle4.bmp",
             "rgb565_bitfields.bmp", "rgba32_v5_bitfields.bmp", "palette1_os2.bmp"]
    c.flips(files, seeds, 20, 200, "bmp")
    for name in ("rgb24_pil.bmp", "rle8_skips.bmp", "rle4.bmp", "palette1.bmp",
                 "rgba32_v5_bitfields.bmp"):
        c.trunc(f"valid/{name}")
    c.limit("valid/large.bmp", 300, 200)
    c.limit("valid/rle8.bmp", W, H)
    c.limit("valid/rgba32_v4_topdown.bmp", W, H)
    c.fast("valid/large.bmp", 64)
    c.fast("valid/rle4.bmp", 16)


def main(argv: list[str]) -> int:
    c = Corpus(Path(argv[1]))
    files = add_valid(c)
    add_bad(c, files)
    c.save()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
