#!/usr/bin/python3
"""Generates the decoder test corpus with PIL 9.4 (the reference).

Usage: gen_decode_corpus.py OUTDIR [--seeds DIR]

OUTDIR receives images of every kind the decoders handle, PIL's decoded RGB
for each as raw bytes (*.rgb, 3 * width * height), a bad-input corpus and
manifest.txt, one case a line, fields separated by single spaces:

  ok   FILE REF WIDTH HEIGHT MIN_SHORT APPLY_EXIF R,G,B
       decode FILE (min_short_side, apply_exif, background) and compare
       with REF byte for byte
  err  FILE STATUS
       decoding must fail with this cerebro_status name
  flip FILE PIL REF
       damaged file: must not crash; PIL is "ok" or "err"; where both PIL
       and we decode it, REF (or "-") holds PIL's pixels to compare

--seeds DIR writes a few tiny valid files for the fuzzer's seed corpus.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import io
import math
import random
import shutil
import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

warnings.simplefilter("ignore")  # PIL warns about the corrupt EXIF we feed it

WHITE = (255, 255, 255)


# ---------------------------------------------------------------- pictures

def picture(width: int, height: int, seed: int = 1) -> np.ndarray:
    """A photo-like RGB picture: gradients, edges and noise, so JPEG has
    real work to do and any transposition shows."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    r = 255 * x / max(width - 1, 1)
    g = 255 * y / max(height - 1, 1)
    b = 128 + 100 * np.sin(x / 5.0) * np.cos(y / 7.0)
    img = np.stack([r, g, b], axis=-1)
    img[(x - width * 0.3) ** 2 + (y - height * 0.3) ** 2 < (min(width, height) * 0.2) ** 2] = (
        250, 30, 40)
    img[int(height * 0.6):int(height * 0.8), int(width * 0.55):int(width * 0.9)] = (20, 40, 220)
    img += rng.normal(0, 12, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def alpha_ramp(width: int, height: int) -> np.ndarray:
    """Alpha from 0 to 255 across the image, with a fully opaque and a fully
    transparent band."""
    a = np.tile(np.linspace(0, 255, width).astype(np.uint8), (height, 1))
    a[: height // 4] = 255
    a[-(height // 4):] = 0
    return a


# -------------------------------------------------------- reference pixels

def composite(rgba: np.ndarray, bg: tuple[int, int, int]) -> np.ndarray:
    """out = round((a * fg + (255 - a) * bg) / 255), in integers."""
    a = rgba[..., 3:4].astype(np.int64)
    fg = rgba[..., :3].astype(np.int64)
    return ((a * fg + (255 - a) * np.array(bg, np.int64) + 127) // 255).astype(np.uint8)


def pil_rgb(im: Image.Image, alpha: bool, bg=WHITE) -> np.ndarray:
    if alpha:
        return composite(np.asarray(im.convert("RGBA")), bg)
    return np.asarray(im.convert("RGB"))


def transposed(im: Image.Image) -> Image.Image:
    """ImageOps.exif_transpose(), or the image as is where PIL's EXIF reader
    raises on a malformed block (we then apply no orientation). Pixel
    errors are not swallowed: the image is loaded first."""
    im.load()
    try:
        return ImageOps.exif_transpose(im)
    except Exception:
        return im


# ------------------------------------------------------------- EXIF blocks

def tiff(orientation=None, order="<", typ=3, count=1, value=None, entries=None,
         ifd_offset=8, declared_count=None, magic=None) -> bytes:
    """A TIFF header + IFD0. Entries are (tag, type, count, 4-byte field)
    tuples; by default a Make string stored out of line and Orientation."""
    e = order
    if entries is None:
        entries = [(0x010F, 2, 8, None)]  # Make, out of line
        if orientation is not None:
            if value is None:
                fmt = {3: "H", 4: "L", 8: "h", 9: "l", 11: "f", 1: "B"}[typ]
                value = struct.pack(e + fmt, orientation).ljust(4, b"\0")
            entries.append((0x0112, typ, count, value))
    n = len(entries)
    data_off = ifd_offset + 2 + 12 * n + 4
    out_of_line = b""
    packed = b""
    for tag, t, c, field in entries:
        if field is None:  # the Make string
            field = struct.pack(e + "L", data_off + len(out_of_line))
            out_of_line += b"Cerebro\0"
        packed += struct.pack(e + "HHL", tag, t, c) + field
    head = magic if magic else (b"II*\0" if order == "<" else b"MM\0*")
    body = struct.pack(e + "H", n if declared_count is None else declared_count) + packed
    body += struct.pack(e + "L", 0)
    return head + struct.pack(e + "L", ifd_offset) + b"\0" * (ifd_offset - 8) + body + out_of_line


def with_app1(jpeg: bytes, *payloads: bytes) -> bytes:
    """Inserts APP1 segments right after SOI."""
    segs = b"".join(b"\xFF\xE1" + struct.pack(">H", len(p) + 2) + p for p in payloads)
    return jpeg[:2] + segs + jpeg[2:]


# ------------------------------------------------------------- PNG writing

def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def pack_rows(samples: np.ndarray, bit_depth: int) -> list[bytes]:
    """samples: (h, w*channels) integers -> packed rows, MSB first."""
    rows = []
    for row in samples:
        if bit_depth == 16:
            rows.append(row.astype(">u2").tobytes())
        elif bit_depth == 8:
            rows.append(row.astype(np.uint8).tobytes())
        else:
            per = 8 // bit_depth
            padded = np.zeros(math.ceil(len(row) / per) * per, np.uint32)
            padded[: len(row)] = row
            groups = padded.reshape(-1, per)
            shifts = np.array([8 - bit_depth * (i + 1) for i in range(per)], np.uint32)
            rows.append((groups << shifts).sum(axis=1).astype(np.uint8).tobytes())
    return rows


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
         (0, 1, 1, 2)]


def write_png(samples: np.ndarray, color_type: int, bit_depth: int, interlace=False,
              plte: bytes | None = None, trns: bytes | None = None,
              exif_before: bytes | None = None, exif_after: bytes | None = None,
              idat_split: int = 0) -> bytes:
    """samples: (h, w, channels) array of raw sample values."""
    h, w, ch = samples.shape
    flat = samples.reshape(h, w * ch)
    raw = b""
    if interlace:
        for x0, y0, dx, dy in ADAM7:
            sub = samples[y0::dy, x0::dx]
            if sub.shape[0] == 0 or sub.shape[1] == 0:
                continue
            for r in pack_rows(sub.reshape(sub.shape[0], -1), bit_depth):
                raw += b"\0" + r
    else:
        for r in pack_rows(flat, bit_depth):
            raw += b"\0" + r
    out = b"\x89PNG\r\n\x1a\n"
    out += png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0,
                                          1 if interlace else 0))
    out += png_chunk(b"tEXt", b"Comment\0made by gen_decode_corpus.py")
    if exif_before is not None:
        out += png_chunk(b"eXIf", exif_before)
    if plte is not None:
        out += png_chunk(b"PLTE", plte)
    if trns is not None:
        out += png_chunk(b"tRNS", trns)
    z = zlib.compress(raw, 9)
    parts = [z[i:i + idat_split] for i in range(0, len(z), idat_split)] if idat_split else [z]
    for p in parts:
        out += png_chunk(b"IDAT", p)
    if exif_after is not None:
        out += png_chunk(b"eXIf", exif_after)
    out += png_chunk(b"IEND", b"")
    return out


def idat_end(png: bytes) -> int:
    """Offset just past the last IDAT chunk (its CRC included)."""
    pos, end = 8, 0
    while pos + 8 <= len(png):
        n = struct.unpack(">I", png[pos:pos + 4])[0]
        if png[pos + 4:pos + 8] == b"IDAT":
            end = pos + 12 + n
        pos += 12 + n
    return end


# --------------------------------------------------------------- YCCK JPEG

def ycck_jpeg(cmyk: np.ndarray, quality: int = 90) -> bytes:
    """PIL cannot write YCCK; libturbojpeg turns CMYK input into YCCK."""
    tj = ctypes.CDLL(ctypes.util.find_library("turbojpeg") or "libturbojpeg.so.0")
    tj.tjInitCompress.restype = ctypes.c_void_p
    tj.tjCompress2.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_int,
                               ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_void_p),
                               ctypes.POINTER(ctypes.c_ulong), ctypes.c_int, ctypes.c_int,
                               ctypes.c_int]
    tj.tjFree.argtypes = [ctypes.c_void_p]
    tj.tjDestroy.argtypes = [ctypes.c_void_p]
    handle = tj.tjInitCompress()
    h, w, _ = cmyk.shape
    buf = ctypes.c_void_p()
    size = ctypes.c_ulong(0)
    TJPF_CMYK, TJSAMP_420 = 11, 2
    rc = tj.tjCompress2(handle, np.ascontiguousarray(cmyk).tobytes(), w, 0, h, TJPF_CMYK,
                        ctypes.byref(buf), ctypes.byref(size), TJSAMP_420, quality, 0)
    assert rc == 0, "tjCompress2 failed"
    data = ctypes.string_at(buf, size.value)
    tj.tjFree(buf)
    tj.tjDestroy(handle)
    return data


def cjpeg_variants(im: Image.Image) -> dict[str, bytes]:
    """JPEG features PIL 9.4 does not write but reads: sampling factors
    without a TurboJPEG name (3x1, 1x3, ...), restart markers, arithmetic
    coding, an RGB (untransformed) colour space. Written by cjpeg
    (libjpeg-turbo-progs) where installed."""
    cjpeg = shutil.which("cjpeg")
    if not cjpeg:
        print("cjpeg not found: skipping the cjpeg-only JPEG variants", file=sys.stderr)
        return {}
    ppm = io.BytesIO()
    im.save(ppm, "PPM")
    variants = {f"sampling_{f.replace(',', '_')}": ["-sample", f]
                for f in ("4x1", "3x1", "1x3", "3x2", "2x1,1x1,2x1")}
    variants.update({
        "restart_every_row": ["-restart", "1"],
        "restart_every_mcu": ["-restart", "1b"],
        "arithmetic": ["-arithmetic"],
        "arithmetic_progressive": ["-arithmetic", "-progressive"],
        "rgb_colorspace": ["-rgb"],
    })
    return {f"cjpeg_{name}.jpg": subprocess.run([cjpeg, "-quality", "90", *args], input=ppm.getvalue(),
                                          capture_output=True, check=True).stdout
            for name, args in variants.items()}


# ------------------------------------------------------------------ corpus

class Corpus:
    def __init__(self, root: Path):
        self.root = root
        self.lines: list[str] = []
        for sub in ("valid", "ref", "bad"):
            shutil.rmtree(root / sub, ignore_errors=True)  # no stale cases
            (root / sub).mkdir(parents=True)

    def write(self, rel: str, data: bytes) -> str:
        (self.root / rel).write_bytes(data)
        return rel

    def ok(self, name: str, data: bytes, ref: np.ndarray, min_short=0, exif=1, bg=WHITE):
        rel = self.write(f"valid/{name}", data)
        refrel = self.write(f"ref/{name}.rgb", np.ascontiguousarray(ref, np.uint8).tobytes())
        h, w = ref.shape[:2]
        self.lines.append(f"ok {rel} {refrel} {w} {h} {min_short} {exif} {bg[0]},{bg[1]},{bg[2]}")

    def err(self, name: str, data: bytes, status: str):
        self.lines.append(f"err {self.write(f'bad/{name}', data)} {status}")

    def flip(self, name: str, data: bytes):
        rel = self.write(f"bad/{name}", data)
        try:
            im = Image.open(io.BytesIO(data))
            alpha = im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info
            ref = pil_rgb(transposed(im), alpha)
        except Exception:
            self.lines.append(f"flip {rel} err -")
            return
        refrel = self.write(f"ref/{name}.rgb", ref.tobytes())
        self.lines.append(f"flip {rel} ok {refrel}")

    def save(self):
        (self.root / "manifest.txt").write_text("\n".join(self.lines) + "\n")


def jpeg_bytes(im: Image.Image, **kw) -> bytes:
    b = io.BytesIO()
    im.save(b, "JPEG", **kw)
    return b.getvalue()


def png_bytes(im: Image.Image, **kw) -> bytes:
    b = io.BytesIO()
    im.save(b, "PNG", **kw)
    return b.getvalue()


def open_ref(data: bytes, alpha=False, bg=WHITE, exif=True) -> np.ndarray:
    im = Image.open(io.BytesIO(data))
    return pil_rgb(transposed(im) if exif else im, alpha, bg)


def add_jpegs(c: Corpus) -> dict[str, bytes]:
    rgb = Image.fromarray(picture(67, 45))
    files = {
        "baseline420.jpg": jpeg_bytes(rgb, quality=90),
        "baseline444.jpg": jpeg_bytes(rgb, quality=95, subsampling=0),
        "baseline422.jpg": jpeg_bytes(rgb, quality=85, subsampling=1),
        "progressive.jpg": jpeg_bytes(rgb, quality=90, progressive=True),
        "optimized.jpg": jpeg_bytes(rgb, quality=75, optimize=True),
        "gray.jpg": jpeg_bytes(rgb.convert("L"), quality=90),
        "gray_progressive.jpg": jpeg_bytes(rgb.convert("L"), quality=90, progressive=True),
        "cmyk.jpg": jpeg_bytes(rgb.convert("CMYK"), quality=90),
        "cmyk_progressive.jpg": jpeg_bytes(rgb.convert("CMYK"), quality=90, progressive=True),
        "ycck.jpg": ycck_jpeg(np.asarray(rgb.convert("CMYK"))),
        "tiny1x1.jpg": jpeg_bytes(Image.new("RGB", (1, 1), (200, 10, 90))),
    }
    files.update(cjpeg_variants(rgb))
    for name, data in files.items():
        c.ok(name, data, open_ref(data))
    base = files["baseline420.jpg"]
    # Cameras append data after EOI; it must be ignored.
    c.ok("trailing_bytes.jpg", base + b"\0" * 100 + b"\xFF\xD8garbage", open_ref(base))
    # Extraneous bytes between segments: a libjpeg warning that PIL accepts.
    sos = base.index(b"\xFF\xDA")
    extraneous = base[:sos] + b"\x01\x02\x03" + base[sos:]
    c.ok("extraneous_bytes.jpg", extraneous, open_ref(extraneous))
    # Format comes from the bytes: a JPEG named .png still decodes.
    c.ok("jpeg_named.png", base, open_ref(base))
    return files


def add_exif_jpegs(c: Corpus):
    rgb = Image.fromarray(picture(40, 24, seed=3))
    base = jpeg_bytes(rgb, quality=92)
    for order, tag in (("<", "ii"), (">", "mm")):
        for o in range(1, 9):
            data = with_app1(base, b"Exif\0\0" + tiff(o, order))
            c.ok(f"exif_{tag}_{o}.jpg", data, open_ref(data))
    # The same file with EXIF switched off stays as stored.
    data = with_app1(base, b"Exif\0\0" + tiff(6))
    c.ok("exif_ignored_6.jpg", data, open_ref(data, exif=False), exif=0)
    # Edge cases of untrusted EXIF, each judged by PIL's own reader.
    odd = {
        "long": tiff(6, typ=4),
        "sshort_negative": tiff(-6, typ=8),
        "float": tiff(6.0, typ=11),
        "byte": tiff(6, typ=1),
        "rational": None,
        "count2": tiff(entries=[(0x0112, 3, 2, struct.pack("<HH", 8, 1))]),
        "duplicate": tiff(entries=[(0x0112, 3, 1, struct.pack("<HH", 3, 0)),
                                   (0x0112, 3, 1, struct.pack("<HH", 6, 0))]),
        "value9": tiff(9),
        "value0": tiff(0),
        "ifd_beyond_end": tiff(6, ifd_offset=8)[:8].replace(b"\x08\0\0\0", b"\xFF\0\0\0"),
        "count_overstated": tiff(entries=[(0x0112, 3, 1, struct.pack("<HH", 5, 0))],
                                 declared_count=400),
        "bad_offset_first": tiff(entries=[(0x010F, 2, 64, struct.pack("<L", 0xFFFFFF)),
                                          (0x0112, 3, 1, struct.pack("<HH", 6, 0))]),
        "bad_offset_after": tiff(entries=[(0x0112, 3, 1, struct.pack("<HH", 7, 0)),
                                          (0x010F, 2, 64, struct.pack("<L", 0xFFFFFF))]),
        "unknown_type_after": tiff(entries=[(0x0112, 3, 1, struct.pack("<HH", 2, 0)),
                                            (0x0112, 99, 1, struct.pack("<HH", 3, 0))]),
        "mm_swapped_magic": tiff(8, ">", magic=b"MM*\0"),
        "ii_swapped_magic": tiff(5, "<", magic=b"II\0*"),
        "bigtiff_mm": tiff(6, ">", magic=b"MM\0+"),
        "not_tiff": b"JUNKJUNKJUNK",
        "short": b"II*\0",
        "ifd_offset_far": tiff(3, ifd_offset=40),
    }
    rational_off = 8 + 2 + 12 + 4
    odd["rational"] = tiff(entries=[(0x0112, 5, 1, struct.pack("<L", rational_off))]) + \
        struct.pack("<LL", 12, 2)
    for name, block in odd.items():
        data = with_app1(base, b"Exif\0\0" + block)
        try:
            ref = open_ref(data)
        except Exception:  # PIL 9.4 cannot even open some ("short"): no orientation
            ref = open_ref(base)
        c.ok(f"exif_{name}.jpg", data, ref)
    # Only the first "Exif\0" APP1 counts (PIL), even when it has no tag.
    data = with_app1(base, b"Exif\0\0" + tiff(None), b"Exif\0\0" + tiff(6))
    c.ok("exif_second_app1.jpg", data, open_ref(data))
    # "Exif\0" without the second NUL: PIL raises in exif_transpose; we
    # apply nothing (and do not look at a later segment).
    data = with_app1(base, b"Exif\0X" + tiff(6), b"Exif\0\0" + tiff(6))
    c.ok("exif_bad_prefix.jpg", data, open_ref(data))
    # Truncated EXIF: the segment ends inside the IFD.
    data = with_app1(base, b"Exif\0\0" + tiff(6)[:20])
    c.ok("exif_truncated_ifd.jpg", data, open_ref(data))


def add_fast_mode(c: Corpus):
    rgb = Image.fromarray(picture(301, 203, seed=5))
    sources = {
        "fast_baseline.jpg": jpeg_bytes(rgb, quality=90),
        "fast_progressive.jpg": jpeg_bytes(rgb, quality=90, progressive=True),
        "fast_gray.jpg": jpeg_bytes(rgb.convert("L"), quality=90),
        "fast_cmyk.jpg": jpeg_bytes(rgb.convert("CMYK"), quality=90),
    }
    # min_short_side -> scale denominator: ceil(203 / d) >= min_short.
    cases = [(0, 1), (203, 1), (102, 2), (101, 2), (100, 2), (51, 4), (50, 4), (27, 4), (26, 8),
             (1, 8), (1000, 1)]
    for name, data in sources.items():
        for min_short, denom in cases:
            im = Image.open(io.BytesIO(data))
            if denom > 1:
                want = (math.ceil(301 / denom), math.ceil(203 / denom))
                im.draft(im.mode, (301 // denom, 203 // denom))  # PIL picks 301 // w
                assert im.size == want, (name, im.size, want)
            c.ok(f"{min_short}_{name}", data, pil_rgb(im, False), min_short=min_short)
    # EXIF rotation: the short side is what matters, and it is rotated after.
    data = with_app1(sources["fast_baseline.jpg"], b"Exif\0\0" + tiff(6))
    im = Image.open(io.BytesIO(data))
    im.draft("RGB", (75, 50))
    c.ok("fast_exif6.jpg", data, pil_rgb(transposed(im), False), min_short=51)
    # PNG has no scaled decode: fast mode gives the full image.
    png = png_bytes(rgb)
    c.ok("fast.png", png, open_ref(png), min_short=50)


def add_pngs(c: Corpus) -> dict[str, bytes]:
    w, h = 37, 29
    rgb = picture(w, h, seed=7)
    gray = np.asarray(Image.fromarray(rgb).convert("L"))
    alpha = alpha_ramp(w, h)
    rng = np.random.default_rng(11)
    g16 = (gray.astype(np.uint32) * 257 + rng.integers(0, 256, gray.shape)).astype(np.uint16)
    rgb16 = (rgb.astype(np.uint32) * 257 + rng.integers(0, 256, rgb.shape)).astype(np.uint16)
    a16 = (alpha.astype(np.uint32) * 257).astype(np.uint16)
    files: dict[str, tuple[bytes, bool]] = {}

    def add(name, data, alpha_ref):
        files[name] = (data, alpha_ref)

    for bits in (1, 2, 4, 8):
        samples = (gray >> (8 - bits))[..., None]
        add(f"gray{bits}.png", write_png(samples, 0, bits), False)
    add("gray_trns.png", write_png(gray[..., None], 0, 8, trns=struct.pack(">H", int(gray[3, 3]))),
        True)
    add("gray_alpha.png", write_png(np.dstack([gray, alpha]), 4, 8), True)
    add("gray_alpha16.png", write_png(np.dstack([g16, a16]), 4, 16), True)
    add("rgb.png", write_png(rgb, 2, 8), False)
    add("rgb16.png", write_png(rgb16, 2, 16), False)
    key = rgb[5, 5]
    add("rgb_trns.png", write_png(rgb, 2, 8, trns=struct.pack(">HHH", *map(int, key))), True)
    add("rgba.png", write_png(np.dstack([rgb, alpha]), 6, 8), True)
    add("rgba16.png", write_png(np.dstack([rgb16, a16]), 6, 16), True)
    for bits in (1, 2, 4, 8):
        n = 1 << bits
        pal = rng.integers(0, 256, (n, 3)).astype(np.uint8)
        idx = (gray.astype(np.uint32) * n // 256)[..., None]
        add(f"palette{bits}.png", write_png(idx, 3, bits, plte=pal.tobytes()), False)
        trns = bytes(int(v) for v in np.linspace(0, 255, min(n, 5)).astype(np.uint8))
        add(f"palette{bits}_trns.png", write_png(idx, 3, bits, plte=pal.tobytes(), trns=trns), True)
    # Adam7, including images smaller than the 8x8 pattern.
    add("interlaced_rgb.png", write_png(rgb, 2, 8, interlace=True), False)
    add("interlaced_rgba.png", write_png(np.dstack([rgb, alpha]), 6, 8, interlace=True), True)
    add("interlaced_palette4.png",
        write_png((gray >> 4)[..., None], 3, 4, interlace=True,
                  plte=rng.integers(0, 256, (16, 3)).astype(np.uint8).tobytes()), False)
    add("interlaced_gray2.png", write_png((gray >> 6)[..., None], 0, 2, interlace=True), False)
    add("interlaced_rgb16.png", write_png(rgb16, 2, 16, interlace=True), False)
    add("interlaced_3x2.png", write_png(rgb[:2, :3], 2, 8, interlace=True), False)
    add("tiny1x1.png", write_png(rgb[:1, :1], 2, 8), False)
    add("split_idat.png", write_png(rgb, 2, 8, idat_split=97), False)
    # PIL's own writer too (its filters and zlib settings differ from ours).
    add("pil_rgb.png", png_bytes(Image.fromarray(rgb), optimize=True), False)
    add("pil_rgba.png", png_bytes(Image.fromarray(np.dstack([rgb, alpha]))), True)
    add("pil_mode1.png", png_bytes(Image.fromarray(gray).convert("1")), False)

    for name, (data, alpha_ref) in files.items():
        c.ok(name, data, open_ref(data, alpha=alpha_ref))
    # 16-bit grayscale: PIL opens mode "I" and clips to 255 in convert("RGB");
    # we keep the high byte on purpose. Check PIL read the same samples.
    g16png = write_png(g16[..., None], 0, 16)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(g16png))), g16.astype(np.int32))
    hi = (g16 >> 8).astype(np.uint8)
    c.ok("gray16.png", g16png, np.dstack([hi, hi, hi]))
    c.ok("interlaced_gray16.png", write_png(g16[..., None], 0, 16, interlace=True),
         np.dstack([hi, hi, hi]))
    # A background other than white.
    bg = (10, 200, 30)
    data = files["rgba.png"][0]
    c.ok("rgba_green_bg.png", data, open_ref(data, alpha=True, bg=bg), bg=bg)
    data = files["palette4_trns.png"][0]
    c.ok("palette4_trns_green_bg.png", data, open_ref(data, alpha=True, bg=bg), bg=bg)
    # eXIf: all orientations, both byte orders, before or after the image data.
    small = picture(21, 13, seed=9)
    for o in range(1, 9):
        data = write_png(small, 2, 8, exif_before=tiff(o))
        c.ok(f"exif_ii_{o}.png", data, open_ref(data))
    for o in (3, 6, 8):
        data = write_png(small, 2, 8, exif_before=tiff(o, ">"))
        c.ok(f"exif_mm_{o}.png", data, open_ref(data))
    data = write_png(small, 2, 8, exif_after=tiff(6))
    c.ok("exif_after_idat.png", data, open_ref(data))
    data = write_png(small, 2, 8, exif_before=tiff(3), exif_after=tiff(8))
    c.ok("exif_before_and_after.png", data, open_ref(data))
    data = write_png(np.dstack([small, alpha_ramp(21, 13)]), 6, 8, interlace=True,
                     exif_before=tiff(7))
    c.ok("exif_interlaced_rgba_7.png", data, open_ref(data, alpha=True))
    # Trailing bytes after IEND are ignored; a PNG named .jpg still decodes.
    rgbpng = files["rgb.png"][0]
    c.ok("trailing_bytes.png", rgbpng + b"trailing junk\0\xFF", open_ref(rgbpng))
    c.ok("png_named.jpg", rgbpng, open_ref(rgbpng))
    return {k: v[0] for k, v in files.items()}


def sof_offset(jpeg: bytes) -> int:
    for marker in (b"\xFF\xC0", b"\xFF\xC2", b"\xFF\xC1"):
        i = jpeg.find(marker)
        if i >= 0:
            return i
    raise ValueError("no SOF")


def with_jpeg_size(jpeg: bytes, w: int, h: int) -> bytes:
    i = sof_offset(jpeg) + 5
    return jpeg[:i] + struct.pack(">HH", h, w) + jpeg[i + 4:]


def with_png_size(png: bytes, w: int, h: int) -> bytes:
    ihdr = struct.pack(">II", w, h) + png[24:29]
    return png[:8] + png_chunk(b"IHDR", ihdr) + png[33:]


def add_bad(c: Corpus, jpegs: dict[str, bytes], pngs: dict[str, bytes]):
    rng = random.Random(20240229)
    c.err("empty.jpg", b"", "CEREBRO_E_FORMAT")
    c.err("text.jpg", b"this is not an image at all\n", "CEREBRO_E_FORMAT")
    c.err("one_byte.png", b"\x89", "CEREBRO_E_FORMAT")
    # Names say nothing: an MP4 named .jpg, a WAV (RIFF, not WebP) named .png.
    c.err("mp4.jpg", b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2", "CEREBRO_E_FORMAT")
    c.err("wav.png", b"RIFF\x10\0\0\0WAVEfmt ", "CEREBRO_E_FORMAT")
    c.err("soi_only.jpg", b"\xFF\xD8\xFF", "CEREBRO_E_CORRUPT")
    c.err("png_signature_only.png", pngs["rgb.png"][:8], "CEREBRO_E_CORRUPT")

    # Truncations at many offsets.
    for name in ("baseline420.jpg", "progressive.jpg", "cmyk.jpg"):
        data = jpegs[name]
        cuts = sorted(set(list(range(1, 40)) + [len(data) * k // 23 for k in range(1, 23)] +
                          [len(data) - k for k in (1, 2, 3, 7)]))
        for cut in cuts:
            status = "CEREBRO_E_FORMAT" if cut < 3 else "CEREBRO_E_CORRUPT"
            c.err(f"trunc_{cut}_{name}", data[:cut], status)
    for name in ("rgb.png", "interlaced_rgba.png", "palette4_trns.png", "split_idat.png"):
        data = pngs[name]
        end = idat_end(data)
        cuts = sorted(set(list(range(1, 60)) + [len(data) * k // 23 for k in range(1, 23)] +
                          [end - 1, end - 4, end - 5]))
        for cut in cuts:
            if cut < 8:
                c.err(f"trunc_{cut}_{name}", data[:cut], "CEREBRO_E_FORMAT")
            elif cut < end:
                c.err(f"trunc_{cut}_{name}", data[:cut], "CEREBRO_E_CORRUPT")
        # Cut after the image data (IEND missing): PIL loads it, so do we.
        c.ok(f"no_iend_{name}", data[:end], open_ref(data, alpha="rgba" in name or "trns" in name))

    # Garbage after a valid header: no 0xFF byte, so no end-of-image marker.
    base = jpegs["baseline420.jpg"]
    sos = base.index(b"\xFF\xDA")
    scan = sos + 2 + struct.unpack(">H", base[sos + 2:sos + 4])[0]
    junk = bytes(rng.randrange(0, 255) for _ in range(3000))
    c.err("garbage_after_header.jpg", base[:scan] + junk, "CEREBRO_E_CORRUPT")
    c.err("garbage_after_sof.jpg", base[:sof_offset(base) + 19] + junk, "CEREBRO_E_CORRUPT")
    rgbpng = pngs["rgb.png"]
    c.err("garbage_after_ihdr.png", rgbpng[:33] + junk, "CEREBRO_E_CORRUPT")
    first_idat = rgbpng.index(b"IDAT") - 4
    c.err("garbage_idat.png", rgbpng[:first_idat] + png_chunk(b"IDAT", junk) +
          png_chunk(b"IEND", b""), "CEREBRO_E_CORRUPT")
    # Data that decodes to garbage yet ends properly: PIL accepts it.
    c.flip("garbage_scan_with_eoi.jpg", base[:scan] + junk + b"\xFF\xD9")

    # Sizes over the limits, refused from the header alone.
    c.err("huge_60000.jpg", with_jpeg_size(base, 60000, 60000), "CEREBRO_E_LIMIT")
    c.err("huge_60000_progressive.jpg", with_jpeg_size(jpegs["progressive.jpg"], 60000, 60000),
          "CEREBRO_E_LIMIT")
    c.err("huge_65535.jpg", with_jpeg_size(base, 65535, 65535), "CEREBRO_E_LIMIT")
    c.err("huge_60000.png", with_png_size(rgbpng, 60000, 60000), "CEREBRO_E_LIMIT")
    c.err("huge_70000x10.png", with_png_size(rgbpng, 70000, 10), "CEREBRO_E_LIMIT")
    c.err("huge_2e9.png", with_png_size(rgbpng, 2000000000, 1), "CEREBRO_E_LIMIT")
    c.err("zero_width.png", with_png_size(rgbpng, 0, 10), "CEREBRO_E_CORRUPT")
    c.err("zero_height.jpg", with_jpeg_size(base, 10, 0), "CEREBRO_E_CORRUPT")

    # Bit flips with a fixed seed.
    sources = [jpegs["baseline420.jpg"], jpegs["progressive.jpg"], jpegs["cmyk.jpg"],
               pngs["rgb.png"], pngs["interlaced_rgba.png"], pngs["palette2.png"]]
    for i in range(240):
        src = bytearray(sources[i % len(sources)])
        for _ in range(rng.choice((1, 1, 2, 4, 8))):
            pos = rng.randrange(len(src))
            src[pos] ^= 1 << rng.randrange(8)
        ext = "jpg" if src[:2] == b"\xFF\xD8" or i % len(sources) < 3 else "png"
        c.flip(f"flip_{i:03d}.{ext}", bytes(src))


def write_seeds(out: Path):
    out.mkdir(parents=True, exist_ok=True)
    rgb = Image.fromarray(picture(17, 11, seed=13))
    (out / "baseline.jpg").write_bytes(
        with_app1(jpeg_bytes(rgb, quality=50), b"Exif\0\0" + tiff(6)))
    (out / "progressive_gray.jpg").write_bytes(
        jpeg_bytes(rgb.convert("L"), quality=50, progressive=True))
    (out / "cmyk.jpg").write_bytes(jpeg_bytes(rgb.convert("CMYK"), quality=50))
    arr = np.asarray(rgb)
    (out / "rgba_interlaced_exif.png").write_bytes(
        write_png(np.dstack([arr, alpha_ramp(17, 11)]), 6, 8, interlace=True,
                  exif_before=tiff(8, ">")))
    (out / "palette2_trns.png").write_bytes(
        write_png((arr[..., 0] >> 6)[..., None], 3, 2, plte=bytes(range(12)),
                  trns=b"\x00\x80"))
    (out / "gray16.png").write_bytes(write_png((arr[..., :1].astype(np.uint16) * 257), 0, 16))


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(argv[1])
    if "--seeds" in argv:
        write_seeds(Path(argv[argv.index("--seeds") + 1]))
    c = Corpus(out)
    jpegs = add_jpegs(c)
    add_exif_jpegs(c)
    add_fast_mode(c)
    pngs = add_pngs(c)
    add_bad(c, jpegs, pngs)
    c.save()
    print(f"{len(c.lines)} cases in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
