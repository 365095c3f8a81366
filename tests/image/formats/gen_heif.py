#!/usr/bin/python3
"""HEIC and AVIF corpus for test_formats.c (see corpus.py).

Files come from Debian's heif-enc (HEVC through x265, AV1 through aom) and
avifenc (alpha, 10/12-bit, grids, irot/imir, EXIF); the reference is
heif-convert's PNG read by PIL (heif-convert writes 16-bit PNGs for deeper
images, of which PIL keeps the high byte), alpha composited on the case's
background.

Usage: gen_heif.py OUTDIR
"""
from __future__ import annotations

import struct
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import WHITE, Corpus, alpha_ramp, bit_flips, picture, tiff  # noqa: E402
from tool_corpus import Scratch, close_to  # noqa: E402
from gen_decode_corpus import write_png  # noqa: E402

BG = (30, 140, 220)

CONTAINERS = {b"meta": 4, b"iprp": 0, b"ipco": 0, b"dinf": 0, b"iref": 4}


def boxes(d: bytes, start=0, end=None, out=None) -> list[tuple[bytes, int, int]]:
    """(type, offset, size) of every box in the meta tree (iinf children
    not needed here), depth first."""
    end = len(d) if end is None else end
    out = [] if out is None else out
    pos = start
    while pos + 8 <= end:
        size, typ = struct.unpack(">I4s", d[pos:pos + 8])
        if size < 8 or pos + size > end:
            raise ValueError(f"box {typ!r} at {pos} has size {size}")
        out.append((typ, pos, size))
        if typ in CONTAINERS:
            boxes(d, pos + 8 + CONTAINERS[typ], pos + size, out)
        pos += size
    return out


def find_box(d: bytes, typ: bytes, nth=0) -> tuple[int, int]:
    hits = [(p, s) for t, p, s in boxes(d) if t == typ]
    return hits[nth]


def with_ispe(d: bytes, w: int, h: int, nth=0) -> bytes:
    """The file with its nth ispe box declaring w x h."""
    pos, _ = find_box(d, b"ispe", nth)
    return d[:pos + 12] + struct.pack(">II", w, h) + d[pos + 20:]


def grid_extents(d: bytes) -> list[tuple[int, int, int]]:
    """(item ID, payload offset, offset of the iloc extent's offset field)
    of every 'grid' item whose payload lies in the file (construction
    method 0, one extent, 4-byte offset and length fields)."""
    ipos, isize = find_box(d, b"iinf")
    ver = d[ipos + 8]
    grids = []
    pos = ipos + 12 + (2 if ver == 0 else 4)
    while pos < ipos + isize:
        size, typ = struct.unpack(">I4s", d[pos:pos + 8])
        if typ == b"infe" and d[pos + 8] >= 2:
            idlen = 2 if d[pos + 8] == 2 else 4
            item = int.from_bytes(d[pos + 12:pos + 12 + idlen], "big")
            if d[pos + 14 + idlen:pos + 18 + idlen] == b"grid":
                grids.append(item)
        pos += size
    lpos, _ = find_box(d, b"iloc")
    ver = d[lpos + 8]
    off_size, len_size = d[lpos + 12] >> 4, d[lpos + 12] & 15
    base_size, idx_size = d[lpos + 13] >> 4, (d[lpos + 13] & 15) if ver else 0
    assert (off_size, len_size, base_size, idx_size) == (4, 4, 0, 0), "unexpected iloc layout"
    idlen = 2 if ver < 2 else 4
    count = int.from_bytes(d[lpos + 14:lpos + 14 + idlen], "big")
    pos = lpos + 14 + idlen
    out = []
    for _ in range(count):
        item = int.from_bytes(d[pos:pos + idlen], "big")
        pos += idlen
        method = 0
        if ver >= 1:
            method = d[pos + 1] & 15
            pos += 2
        pos += 2
        n_ext = int.from_bytes(d[pos:pos + 2], "big")
        pos += 2
        if item in grids:
            assert method == 0 and n_ext == 1, "grid payload not a single file extent"
            out.append((item, int.from_bytes(d[pos:pos + 4], "big"), pos))
        pos += n_ext * 8
    assert out, "no grid item"
    return out


def with_grid_output(d: bytes, w: int, h: int, wide=False, nth=0, rows=1, cols=1) -> bytes:
    """The file with its nth grid item declaring a w x h output of
    (rows + 1) x (cols + 1) tiles: in place (16-bit fields), or (wide: the
    32-bit form, flags & 1, 4 bytes longer) in a 'free' box appended to the
    file, the iloc extent pointing there."""
    item, payload, field = grid_extents(d)[nth]
    if not wide:
        return d[:payload] + struct.pack(">BBBBHH", 0, 0, rows, cols, w, h) + d[payload + 8:]
    grid = struct.pack(">BBBBII", 0, 1, rows, cols, w, h)
    d = d[:field] + struct.pack(">II", len(d) + 8, len(grid)) + d[field + 8:]
    return d + struct.pack(">I4s", 8 + len(grid), b"free") + grid


class BitWriter:
    """MSB-first bits, exp-Golomb codes, byte-aligned with a stop bit."""

    def __init__(self):
        self.bits: list[int] = []

    def u(self, n: int, v: int) -> "BitWriter":
        self.bits += [(v >> (n - 1 - i)) & 1 for i in range(n)]
        return self

    def ue(self, v: int) -> "BitWriter":
        n = (v + 1).bit_length()
        return self.u(n - 1, 0).u(n, v + 1)

    def trailing(self) -> bytes:
        self.u(1, 1)
        while len(self.bits) % 8:
            self.u(1, 0)
        return bytes(int("".join(map(str, self.bits[i:i + 8])), 2)
                     for i in range(0, len(self.bits), 8))


def av1_sequence_header(w: int, h: int) -> bytes:
    """A sequence header OBU (with its size field) of a reduced still
    picture declaring w x h, 8-bit 4:2:0."""
    b = BitWriter().u(3, 0).u(1, 1).u(1, 1).u(5, 31)
    b.u(4, 15).u(4, 15).u(16, w - 1).u(16, h - 1)
    b.u(1, 0).u(1, 0).u(1, 0).u(1, 0).u(1, 0).u(1, 0)  # sb128 .. restoration
    b.u(1, 0).u(1, 0).u(1, 0).u(1, 0).u(2, 0).u(1, 0).u(1, 0)  # colour, film grain
    payload = b.trailing()
    assert len(payload) < 128
    return bytes([1 << 3 | 2, len(payload)]) + payload


def hevc_sps(w: int, h: int) -> bytes:
    """An SPS NAL unit (Main profile, 4:2:0) declaring w x h, emulation
    prevention applied."""
    b = BitWriter().u(4, 0).u(3, 0).u(1, 1)
    b.u(2, 0).u(1, 0).u(5, 1).u(32, 0x60000000).u(4, 0b1001).u(44, 0).u(8, 120)
    b.ue(0).ue(1).ue(w).ue(h).u(1, 0).ue(0).ue(0).ue(4)
    rbsp, out, zeros = b.trailing(), bytearray(b"\x42\x01"), 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def item_extent(d: bytes, item: int) -> tuple[int, int, int, int, int, int]:
    """(data offset, length, offset of the iloc extent's offset field, base
    offset, offset and length field sizes) of an item stored in one file
    extent."""
    lpos, _ = find_box(d, b"iloc")
    ver = d[lpos + 8]
    off_size, len_size = d[lpos + 12] >> 4, d[lpos + 12] & 15
    base_size, idx_size = d[lpos + 13] >> 4, (d[lpos + 13] & 15) if ver else 0
    assert off_size in (4, 8) and len_size in (4, 8) and idx_size == 0, "unexpected iloc"
    idlen = 2 if ver < 2 else 4
    count = int.from_bytes(d[lpos + 14:lpos + 14 + idlen], "big")
    pos = lpos + 14 + idlen
    for _ in range(count):
        ident = int.from_bytes(d[pos:pos + idlen], "big")
        pos += idlen + (2 if ver >= 1 else 0) + 2
        base = int.from_bytes(d[pos:pos + base_size], "big")
        pos += base_size
        n_ext = int.from_bytes(d[pos:pos + 2], "big")
        pos += 2
        if ident == item:
            assert n_ext == 1
            off = int.from_bytes(d[pos:pos + off_size], "big")
            length = int.from_bytes(d[pos + off_size:pos + off_size + len_size], "big")
            return base + off, length, pos, base, off_size, len_size
        pos += n_ext * (off_size + len_size)
    raise ValueError(f"no iloc entry for item {item}")


def with_item_data(d: bytes, item: int, change) -> bytes:
    """The file with item's data replaced by change(data), stored in a
    'free' box appended to the file (the iloc extent pointing there)."""
    off, length, field, base, off_size, len_size = item_extent(d, item)
    new = change(d[off:off + length])
    ext = (len(d) + 8 - base).to_bytes(off_size, "big") + len(new).to_bytes(len_size, "big")
    d = d[:field] + ext + d[field + off_size + len_size:]
    return d + struct.pack(">I4s", 8 + len(new), b"free") + new


def after_av1_sequence_header(data: bytes, obu: bytes) -> bytes:
    """AV1 item data with obu inserted after its sequence header OBU."""
    pos = 0
    while pos < len(data):
        head, ext = data[pos], (data[pos] >> 2) & 1
        assert head & 2, "OBU without a size field"
        size, i, p = 0, 0, pos + 1 + ext
        while True:
            size |= (data[p] & 0x7f) << (7 * i)
            i += 1
            p += 1
            if not data[p - 1] & 0x80:
                break
        pos = p + size
        if (head >> 3) & 15 == 1:
            return data[:pos] + obu + data[pos:]
    raise ValueError("no sequence header in the item data")


class Tools(Scratch):
    """heif-enc, avifenc and heif-convert (the reference)."""

    def __init__(self, tmp: Path):
        super().__init__(tmp, ["heif-convert", "--quiet"])

    def heif_enc(self, src: Path, *args: str, avif=False) -> bytes:
        return self.encode(["heif-enc", *args, "-o", "{out}", "{src}"], src,
                           ".avif" if avif else ".heic")

    def avifenc(self, src: Path, *args: str) -> bytes:
        return self.encode(["avifenc", "-s", "8", *args, "{src}", "{out}"], src, ".avif")


def smooth(pixels: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(pixels).filter(ImageFilter.GaussianBlur(2)))


def add_valid(c: Corpus, t: Tools) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    pic = picture(96, 64, 1)
    src = t.png(pic)
    odd = picture(97, 61, 2)
    rgba = np.dstack([picture(96, 64, 3), alpha_ramp(96, 64)])
    src_rgba = t.png(rgba)

    def ok(name, data, ref, exif=1, bg=WHITE, tol=0):
        files[name] = data
        c.ok(name, data, ref, exif=exif, bg=bg, tol=tol)

    # HEVC and AV1, lossy 4:2:0, odd sizes, lossless RGB, grayscale.
    for name, data in [("q80.heic", t.heif_enc(src, "-q", "80")),
                       ("q80.avif", t.heif_enc(src, "-q", "80", avif=True)),
                       ("odd.heic", t.heif_enc(t.png(odd), "-q", "85")),
                       ("odd.avif", t.avifenc(t.png(odd), "-y", "420")),
                       ("yuv444.avif", t.avifenc(src, "-y", "444")),
                       ("limited.avif", t.avifenc(src, "-r", "limited"))]:
        ref = t.reference(data)
        close_to(odd if name.startswith("odd") else pic, ref, 12, name)
        ok(name, data, ref)
    lossless = t.heif_enc(src, "-L", "-p", "chroma=444", "--matrix_coefficients=0")
    close_to(pic, t.reference(lossless), 1, "lossless.heic")
    ok("lossless.heic", lossless, t.reference(lossless))
    gray = picture(80, 48, 4)[..., 1]
    for name, data in [("gray.heic", t.heif_enc(t.png(gray), "-q", "85")),
                       ("gray.avif", t.avifenc(t.png(gray), "-y", "400"))]:
        ok(name, data, t.reference(data))

    # Alpha, on white and on a colour.
    for name, data in [("alpha.heic", t.heif_enc(src_rgba, "-q", "85")),
                       ("alpha.avif", t.avifenc(src_rgba)),
                       ("alpha_premul.avif", t.avifenc(src_rgba, "-p"))]:
        ok(name, data, t.reference(data))
        ok("bg_" + name, data, t.reference(data, BG), bg=BG)

    # More than 8 bits: libheif's 8-bit output drops the low bits, which is
    # the high byte of heif-convert's 16-bit PNG.
    deep = picture(96, 64, 5).astype(np.uint16) * 257
    deep += np.random.default_rng(5).integers(0, 256, deep.shape, dtype=np.uint16)
    src16 = t.path(".png")
    src16.write_bytes(write_png(np.minimum(deep, 65535), 2, 16))
    deep_a = np.dstack([np.minimum(deep, 65535), alpha_ramp(96, 64).astype(np.uint16) * 257])
    src16a = t.path(".png")
    src16a.write_bytes(write_png(deep_a, 6, 16))
    for name, data in [("10bit.heic", t.heif_enc(src16, "-b", "10", "-q", "85")),
                       ("10bit.avif", t.avifenc(src16, "-d", "10")),
                       ("12bit.avif", t.avifenc(src16, "-d", "12")),
                       ("12bit_alpha.avif", t.avifenc(src16a, "-d", "12"))]:
        if "alpha" not in name:
            close_to((deep >> 8).astype(np.uint8), t.reference(data), 20, name)
        ok(name, data, t.reference(data, BG), bg=BG)

    # irot/imir: applied with apply_exif, ignored without (the coded
    # picture, which is what the same encode without them decodes to).
    plain = t.avifenc(src)
    plain_ref = t.reference(plain)
    for name, args in [("irot1.avif", ["--irot", "1"]), ("irot2.avif", ["--irot", "2"]),
                       ("irot3.avif", ["--irot", "3"]), ("imir0.avif", ["--imir", "0"]),
                       ("imir1.avif", ["--imir", "1"]),
                       ("irot1_imir0.avif", ["--irot", "1", "--imir", "0"])]:
        data = t.avifenc(src, *args)
        ref = t.reference(data)
        if np.array_equal(ref, plain_ref):
            raise RuntimeError(f"{name}: heif-convert shows no transformation")
        ok(name, data, ref)
        ok("noexif_" + name, data, plain_ref, exif=0)
    # An EXIF Orientation next to irot is informative only: irot alone turns.
    exif6 = t.path(".exif")
    exif6.write_bytes(tiff(6))
    data = t.avifenc(src, "--irot", "3", "--exif", str(exif6))
    ok("irot3_exif6.avif", data, t.reference(data))
    jpg = t.path(".jpg")
    Image.fromarray(pic).save(jpg, quality=95, exif=b"Exif\0\0" + tiff(8))
    data = t.heif_enc(jpg, "-q", "85")
    ref = t.reference(data)
    if ref.shape[:2] != (64, 96):
        raise RuntimeError("exif8.heic: heif-enc turned the picture")
    ok("exif8.heic", data, ref)

    # 2x2 grids (each tile its own AV1 item), also with alpha. (avifenc
    # 0.11 puts a grid's irot on its tiles too, which libheif 1.15 refuses
    # as invalid grid data: no rotated grid here.)
    big = picture(256, 128, 6)
    data = t.avifenc(t.png(big), "-g", "2x2")
    ref = t.reference(data)
    close_to(big, ref, 12, "grid.avif")
    ok("grid.avif", data, ref)
    # The same grid in the 32-bit form (flags & 1), its payload elsewhere.
    ok("grid_wide.avif", with_grid_output(data, 256, 128, True), ref)
    big_a = np.dstack([picture(256, 128, 9), alpha_ramp(256, 128)])
    data = t.avifenc(t.png(big_a), "-g", "2x2")
    ok("grid_alpha.avif", data, t.reference(data, BG), bg=BG)

    # Thumbnails (heif-enc -t): exact mode decodes the primary image.
    # A camera makes its thumbnail from a photo whose detail is coarser than
    # a pixel; libheif scales with nearest neighbour, which would alias the
    # pixel noise of picture(): blurred first.
    large = smooth(picture(480, 320, 7))
    files["thumb.heic"] = t.heif_enc(t.png(large), "-q", "70", "-t", "240")
    c.ok("thumb.heic", files["thumb.heic"], t.reference(files["thumb.heic"]))
    large_a = np.dstack([smooth(picture(320, 480, 8)), alpha_ramp(320, 480)])
    files["thumb_alpha.heic"] = t.heif_enc(t.png(large_a), "-q", "70", "-t", "160")
    c.ok("thumb_alpha.heic", files["thumb_alpha.heic"],
         t.reference(files["thumb_alpha.heic"], BG), bg=BG)
    # An ispe smaller than the coded picture but within codec padding of it
    # (ispe rounded up to 64, plus 64): decoded as libheif does.
    data = with_ispe(files["thumb.heic"], 400, 300)
    ok("ispe_padding.heic", data, t.reference(data))
    return files


def add_bad(c: Corpus, files: dict[str, bytes]):
    heic, avif = files["q80.heic"], files["q80.avif"]
    # Declared sizes far over the limits: refused before any decoding.
    c.err("huge_ispe.heic", with_ispe(heic, 60000, 60000), "LIMIT")
    c.err("huge_ispe.avif", with_ispe(avif, 30000, 30000), "LIMIT")
    c.err("huge_ispe_thumb.heic", with_ispe(files["thumb.heic"], 20000, 20000), "LIMIT")
    c.err("wide_ispe.avif", with_ispe(avif, 65535, 1), "LIMIT")
    # Only the signature, a cut header, no image data.
    ftyp_end = find_box(heic, b"ftyp")[1]
    c.err("signature.heic", heic[:ftyp_end], "CORRUPT")
    c.err("signature.avif", avif[:find_box(avif, b"ftyp")[1]], "CORRUPT")
    meta_pos, meta_size = find_box(heic, b"meta")
    c.err("cut_meta.heic", heic[:meta_pos + meta_size // 2], "CORRUPT")
    mdat_pos, mdat_size = find_box(avif, b"mdat")
    c.err("cut_mdat.avif", avif[:mdat_pos + mdat_size // 2], "CORRUPT")
    c.err("no_mdat.heic", heic[:find_box(heic, b"mdat")[0]], "CORRUPT")
    c.err("empty_ispe.avif", with_ispe(avif, 0, 64), "CORRUPT")
    # A grid's output is allocated at the size in its payload, not its
    # ispe: sizes over max_pixels or the side ceiling in the 16-bit and the
    # 32-bit form, the alpha plane's grid too, and the fuzzer's find (ispe
    # 256x128, payload 25453x26977). (avifenc stores the colour and alpha
    # grids' identical payloads once: the 32-bit form redirects one item.)
    # Too many tiles for the output, an empty output: corrupt.
    grid, grid_a = files["grid.avif"], files["grid_alpha.avif"]
    assert len(grid_extents(grid_a)) == 2
    c.err("grid_output_40000.avif", with_grid_output(grid, 40000, 40000), "LIMIT")
    c.err("grid_output_fuzz.avif", with_grid_output(grid, 25453, 26977), "LIMIT")
    c.err("grid_output_wide_side.avif", with_grid_output(grid, 100000, 64, True), "LIMIT")
    c.err("grid_output_wide.avif", with_grid_output(grid, 30000, 30000, True), "LIMIT")
    c.err("grid_output_alpha.avif", with_grid_output(grid_a, 40000, 40000, True, nth=1), "LIMIT")
    c.err("grid_output_color.avif", with_grid_output(grid_a, 20000, 20000, True, nth=0), "LIMIT")
    c.err("grid_tiles_1x1.avif", with_grid_output(grid, 1, 1, rows=15, cols=15), "CORRUPT")
    c.err("grid_output_empty.avif", with_grid_output(grid, 0, 128), "CORRUPT")
    # A coded item is decoded at the size its bitstream declares, not its
    # ispe: a sequence header / SPS declaring a huge picture behind the
    # real one in the item's data (the decoder takes the last) is over the
    # limits; one far larger than the ispe but within them is corrupt.
    # (Item 1 is the primary image in heif-enc's files.)
    def av1_bomb(w, h):
        return lambda data: after_av1_sequence_header(data, av1_sequence_header(w, h))

    def hevc_bomb(w, h):
        sps = hevc_sps(w, h)
        return lambda data: struct.pack(">I", len(sps)) + sps + data

    c.err("codec_30000.avif", with_item_data(avif, 1, av1_bomb(30000, 30000)), "LIMIT")
    c.err("codec_side.avif", with_item_data(avif, 1, av1_bomb(65536, 16)), "LIMIT")
    c.err("codec_16384.heic", with_item_data(heic, 1, hevc_bomb(16384, 16384)), "LIMIT")
    c.err("codec_side.heic", with_item_data(heic, 1, hevc_bomb(65504, 8)), "LIMIT")
    c.err("codec_512.avif", with_item_data(avif, 1, av1_bomb(512, 512)), "CORRUPT")
    c.err("codec_512.heic", with_item_data(heic, 1, hevc_bomb(512, 512)), "CORRUPT")
    # The same rule against a shrunken ispe: 480x320 coded, ispe 64x64.
    c.err("codec_over_ispe.heic", with_ispe(files["thumb.heic"], 64, 64), "CORRUPT")

    flips = 0
    for i, name in enumerate(["q80.heic", "q80.avif", "alpha.avif", "grid.avif",
                              "thumb.heic", "10bit.heic", "irot1_imir0.avif"]):
        data = files[name]
        for k, damaged in enumerate(bit_flips(data, 20, seed=100 + i)):
            c.flip(f"flip_{k}_{name}", damaged)
            flips += 1
        # The same density of damage inside the meta box, where it matters.
        pos, size = find_box(data, b"meta")
        for k, damaged in enumerate(bit_flips(data[pos:pos + size], 10, seed=200 + i)):
            c.flip(f"flip_meta_{k}_{name}", data[:pos] + damaged + data[pos + size:])
            flips += 1
    assert flips >= 100


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    c = Corpus(Path(argv[1]))
    with tempfile.TemporaryDirectory() as tmp:
        t = Tools(Path(tmp))
        files = add_valid(c, t)
    add_bad(c, files)
    for name in ["q80.heic", "alpha.avif", "grid.avif", "thumb.heic", "10bit.avif"]:
        c.trunc(f"valid/{name}")
    for name, (w, h) in [("q80.heic", (96, 64)), ("odd.avif", (97, 61)),
                         ("irot1.avif", (64, 96)), ("grid.avif", (256, 128)),
                         ("thumb.heic", (480, 320))]:
        c.limit(f"valid/{name}", w, h)
    for name, short in [("thumb.heic", 224), ("thumb.heic", 160), ("thumb_alpha.heic", 100),
                        ("q80.avif", 32), ("grid.avif", 64)]:
        c.fast(f"valid/{name}", short)
    c.save()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
