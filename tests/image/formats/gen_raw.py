#!/usr/bin/env python3
"""Camera RAW corpus for check_image_raw: DNG files packed by hand (no
Debian tool writes DNG), their references rendered by LibRaw's own
`dcraw_emu` (libraw-bin) with the options lib/image/raw.c uses, and plain
TIFFs that must not be taken for RAW.

Usage: gen_raw.py OUTDIR [--seeds DIR]   (see corpus.py for what OUTDIR
gets; --seeds also writes the fuzz seeds committed in tests/fuzz/corpus/raw)
"""
from __future__ import annotations

import io
import struct
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from corpus import Corpus, bit_flips, picture, run

# TIFF field types.
BYTE, ASCII, SHORT, LONG, RATIONAL, SRATIONAL = 1, 2, 3, 4, 5, 10
TYPE_SIZE = {BYTE: 1, ASCII: 1, SHORT: 2, LONG: 4, RATIONAL: 8, SRATIONAL: 8}

BLACK, WHITE_LEVEL = 256, 16383
# XYZ (D65) -> linear sRGB: as ColorMatrix1 it makes the camera's primaries
# sRGB's, so LibRaw's colour matrix is the identity and the picture comes
# out looking like itself.
XYZ_TO_SRGB = ((3.2404542, -1.5371385, -0.4985314),
               (-0.9692660, 1.8760108, 0.0415560),
               (0.0556434, -0.2040259, 1.0572252))
# DNG Orientation values and the LibRaw flip each becomes.
ORIENTATIONS = {1: 0, 3: 3, 6: 6, 8: 5}


def rational(x: float, signed: bool) -> tuple[int, int]:
    den = 10000
    return (int(round(x * den)), den) if signed or x >= 0 else (0, den)


class Ifd:
    """One IFD's entries: tag -> (type, values)."""

    def __init__(self):
        self.entries: dict[int, tuple[int, list]] = {}

    def add(self, tag: int, typ: int, values):
        if typ == ASCII:
            values = list(values.encode() + b"\0")
        elif not isinstance(values, (list, tuple)):
            values = [values]
        self.entries[tag] = (typ, list(values))


def pack_value(typ: int, values: list) -> bytes:
    if typ in (BYTE, ASCII):
        return bytes(values)
    if typ == SHORT:
        return struct.pack(f"<{len(values)}H", *values)
    if typ == LONG:
        return struct.pack(f"<{len(values)}I", *values)
    fmt = "<ii" if typ == SRATIONAL else "<II"
    return b"".join(struct.pack(fmt, *v) for v in values)


def ifd_size(ifd: Ifd) -> int:
    """Bytes an IFD takes with its out-of-line values (each kept even)."""
    extra = 0
    for typ, values in ifd.entries.values():
        n = TYPE_SIZE[typ] * len(values)
        extra += n + n % 2 if n > 4 else 0
    return 2 + 12 * len(ifd.entries) + 4 + extra


def build_tiff(ifds: list[Ifd], blobs: dict[str, bytes], links: dict) -> bytes:
    """Lays out a little-endian TIFF as cameras do: header, the IFDs (each
    followed by its out-of-line values), then the image data. `links` says
    which entries point at what: {(ifd index, tag): "blob name" |
    ("ifd", index)}. ifds[0] is IFD0 (no next IFD); the others are reached
    through SubIFDs."""
    ifd_at, pos = [], 8
    for ifd in ifds:
        ifd_at.append(pos)
        pos += ifd_size(ifd)
    blob_at = {}
    for name, data in blobs.items():
        pos += pos % 2
        blob_at[name] = pos
        pos += len(data)
    for (i, tag), target in links.items():
        typ, _ = ifds[i].entries[tag]
        at = ifd_at[target[1]] if isinstance(target, tuple) else blob_at[target]
        ifds[i].entries[tag] = (typ, [at])
    out = bytearray(b"II*\0" + struct.pack("<I", ifd_at[0]))
    for i, ifd in enumerate(ifds):
        assert len(out) == ifd_at[i]
        n = len(ifd.entries)
        data_at = len(out) + 2 + 12 * n + 4
        head = bytearray(struct.pack("<H", n))
        tail = bytearray()
        for tag in sorted(ifd.entries):
            typ, values = ifd.entries[tag]
            raw = pack_value(typ, values)
            if len(raw) <= 4:
                head += struct.pack("<HHI", tag, typ, len(values)) + raw.ljust(4, b"\0")
            else:
                head += struct.pack("<HHII", tag, typ, len(values), data_at + len(tail))
                tail += raw + (b"\0" if len(raw) % 2 else b"")
        out += head + struct.pack("<I", 0) + tail
    for name, data in blobs.items():
        out += b"\0" * (blob_at[name] - len(out))
        out += data
    return bytes(out)


def scene(width: int, height: int, seed: int) -> np.ndarray:
    """What the sensor sees: the test picture through a lens, which blurs
    it by about a pixel (a sensor never records pixel-to-pixel noise in
    one colour only; half-size decoding relies on that, like real RAWs)."""
    im = Image.fromarray(picture(width, height, seed=seed))
    return np.asarray(im.filter(ImageFilter.GaussianBlur(1.0)))


def srgb_to_linear(v: np.ndarray) -> np.ndarray:
    v = v / 255.0
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def mosaic(rgb: np.ndarray, neutral=(0.5, 1.0, 0.7)) -> np.ndarray:
    """An RGGB Bayer mosaic of the picture (linear light, scaled by the
    camera's channel sensitivities `neutral` so white balance has work)."""
    lin = srgb_to_linear(rgb.astype(np.float64)) * 0.8
    h, w = rgb.shape[:2]
    raw = np.empty((h, w), np.float64)
    raw[0::2, 0::2] = lin[0::2, 0::2, 0] * neutral[0]
    raw[0::2, 1::2] = lin[0::2, 1::2, 1] * neutral[1]
    raw[1::2, 0::2] = lin[1::2, 0::2, 1] * neutral[1]
    raw[1::2, 1::2] = lin[1::2, 1::2, 2] * neutral[2]
    return np.clip(BLACK + raw * (WHITE_LEVEL - BLACK), 0, 65535).round().astype("<u2")


def raw_ifd(w: int, h: int, raw_strip: str, rows_per_strip: int | None = None) -> Ifd:
    ifd = Ifd()
    ifd.add(254, LONG, 0)
    ifd.add(256, LONG, w)
    ifd.add(257, LONG, h)
    ifd.add(258, SHORT, 16)
    ifd.add(259, SHORT, 1)
    ifd.add(262, SHORT, 32803)
    ifd.add(273, LONG, 0)
    ifd.add(277, SHORT, 1)
    ifd.add(278, LONG, rows_per_strip or h)
    ifd.add(279, LONG, w * h * 2)
    ifd.add(284, SHORT, 1)
    ifd.add(33421, SHORT, [2, 2])
    ifd.add(33422, BYTE, [0, 1, 1, 2])
    ifd.add(50714, LONG, BLACK)
    ifd.add(50717, LONG, WHITE_LEVEL)
    return ifd


def dng_tags(ifd: Ifd, orientation: int, neutral, model: str):
    ifd.add(271, ASCII, "Cerebro")
    ifd.add(272, ASCII, model)
    ifd.add(274, SHORT, orientation)
    ifd.add(50706, BYTE, [1, 4, 0, 0])
    ifd.add(50707, BYTE, [1, 1, 0, 0])
    ifd.add(50708, ASCII, f"Cerebro {model}")
    ifd.add(50721, SRATIONAL, [rational(x, True) for row in XYZ_TO_SRGB for x in row])
    ifd.add(50728, RATIONAL, [rational(x, False) for x in neutral])
    ifd.add(50778, SHORT, 21)  # CalibrationIlluminant1: D65


def dng(rgb: np.ndarray, orientation=1, preview: bytes | None = None,
        preview_size=(0, 0), neutral=(0.5, 1.0, 0.7), model="Test",
        size_override: tuple[int, int] | None = None, preview_in_subifd=False) -> bytes:
    """A DNG holding the Bayer mosaic of `rgb` (uncompressed 16-bit). With a
    preview, IFD0 is the JPEG preview and the raw sits in a SubIFD, as
    cameras and Adobe's converter write them (or, preview_in_subifd, the
    raw is IFD0 and the preview its SubIFD); otherwise IFD0 is the raw."""
    h, w = rgb.shape[:2]
    strip = mosaic(rgb, neutral).tobytes()
    blobs = {"preview": preview} if preview else {}
    blobs["raw"] = strip  # the preview first, as cameras write them
    dw, dh = size_override or (w, h)
    raw = raw_ifd(dw, dh, "raw")
    raw.entries[279] = (LONG, [len(strip)])
    if preview is None:
        dng_tags(raw, orientation, neutral, model)
        return build_tiff([raw], blobs, {(0, 273): "raw"})
    prev = Ifd()
    prev.add(254, LONG, 1)
    prev.add(256, LONG, preview_size[0])
    prev.add(257, LONG, preview_size[1])
    prev.add(258, SHORT, [8, 8, 8])
    prev.add(259, SHORT, 7)
    prev.add(262, SHORT, 6)
    prev.add(273, LONG, 0)
    prev.add(277, SHORT, 3)
    prev.add(278, LONG, preview_size[1])
    prev.add(279, LONG, len(preview))
    prev.add(284, SHORT, 1)
    ifd0, sub = (raw, prev) if preview_in_subifd else (prev, raw)
    ifd0.add(330, LONG, 0)
    dng_tags(ifd0, orientation, neutral, model)
    strips = {0: "raw", 1: "preview"} if preview_in_subifd else {0: "preview", 1: "raw"}
    return build_tiff([ifd0, sub], blobs, {(0, 273): strips[0], (0, 330): ("ifd", 1),
                                           (1, 273): strips[1]})


def render(tmp: Path, data: bytes, *opts: str) -> np.ndarray:
    """What `dcraw_emu -w OPTS` (LibRaw's own tool) makes of a RAW file:
    the same LibRaw, the same options as lib/image/raw.c."""
    src = tmp / "in.dng"
    src.write_bytes(data)
    dst = tmp / "out.ppm"
    dst.unlink(missing_ok=True)
    run(["dcraw_emu", "-w", *opts, "-Z", str(dst), str(src)])
    with Image.open(dst) as im:
        return np.asarray(im.convert("RGB"))


def jpeg_of(rgb: np.ndarray, quality=92) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def pil_draft(jpeg: bytes, min_short: int, orientation: int) -> np.ndarray:
    """PIL's reading of a preview JPEG at the scale fast mode picks (the
    smallest 1/2^k keeping the short side >= min_short), then oriented."""
    im = Image.open(io.BytesIO(jpeg))
    w, h = im.size
    scale = 1
    for d in (8, 4, 2):
        if min(-(-w // d), -(-h // d)) >= min_short:
            scale = d
            break
    im.draft("RGB", (-(-w // scale), -(-h // scale)))
    im = im.convert("RGB")
    transpose = {1: None, 3: Image.ROTATE_180, 6: Image.ROTATE_270, 8: Image.ROTATE_90}
    if transpose[orientation] is not None:
        im = im.transpose(transpose[orientation])
    return np.asarray(im)


def plain_tiffs() -> dict[str, bytes]:
    """TIFFs as PIL writes them: never camera RAWs."""
    rgb = picture(64, 48, seed=9)
    im = Image.fromarray(rgb)
    out = {}
    variants = {
        "rgb": (im, {}),
        "rgb_lzw": (im, {"compression": "tiff_lzw"}),
        "grey": (im.convert("L"), {}),
        "grey16": (Image.fromarray((np.asarray(im.convert("L")).astype(np.uint16) * 257)), {}),
        "cmyk": (im.convert("CMYK"), {}),
        "rgba": (im.convert("RGBA"), {}),
        "bilevel": (im.convert("1"), {"compression": "group4"}),
    }
    for name, (pic, kw) in variants.items():
        buf = io.BytesIO()
        pic.save(buf, "TIFF", **kw)
        out[f"plain_{name}.tif"] = buf.getvalue()
    # A camera maker in the tags does not make a plain picture a RAW.
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x0110] = "Canon EOS 5D"
    buf = io.BytesIO()
    im.save(buf, "TIFF", exif=exif)
    out["plain_rgb_canon.tif"] = buf.getvalue()
    buf = io.BytesIO()
    im.save(buf, "TIFF", save_all=True, append_images=[im.convert("L"), im.rotate(90)])
    out["plain_pages.tif"] = buf.getvalue()
    return out


def huge(w: int, h: int) -> bytes:
    """A DNG header declaring w x h pixels over a few bytes of data."""
    return dng(picture(32, 24, seed=5), size_override=(w, h))


def strip_moved(data: bytes, offset: int) -> bytes:
    """The DNG (raw in IFD0) with its StripOffsets pointing at `offset`."""
    out = bytearray(data)
    ifd0 = struct.unpack_from("<I", out, 4)[0]
    for i in range(struct.unpack_from("<H", out, ifd0)[0]):
        at = ifd0 + 2 + 12 * i
        if struct.unpack_from("<H", out, at)[0] == 273:
            struct.pack_into("<I", out, at + 8, offset)
            return bytes(out)
    raise ValueError("no StripOffsets")


def not_raw(c: Corpus, name: str, data: bytes):
    """notraw FILE: cb_raw_sniff() must say no (test_formats.c)."""
    c._add("notraw", c.write(f"valid/{name}", data))


def write_seeds(out: Path):
    """Tiny DNGs (LibRaw wants 22 pixels a side at least) for fuzz_raw."""
    out.mkdir(parents=True, exist_ok=True)
    rgb = scene(24, 22, seed=13)
    (out / "bayer.dng").write_bytes(dng(rgb))
    (out / "bayer_o6.dng").write_bytes(dng(rgb, orientation=6, neutral=(0.7, 1.0, 0.4)))
    small = jpeg_of(np.asarray(Image.fromarray(rgb).resize((12, 11))), quality=40)
    (out / "preview.dng").write_bytes(dng(rgb, orientation=3, preview=small, preview_size=(12, 11)))


def main(argv: list[str]) -> int:
    if "--seeds" in argv:
        write_seeds(Path(argv[argv.index("--seeds") + 1]))
    c = Corpus(Path(argv[1]))
    tmp = Path(tempfile.mkdtemp(prefix="gen_raw_"))
    rgb = scene(128, 96, seed=4)
    upright = dng(rgb)
    full = render(tmp, upright)
    # The preview is what the camera renders: here LibRaw's own rendering,
    # shrunk (cameras write it in sensor orientation, like the RAW).
    thumb = np.asarray(Image.fromarray(full).resize((120, 90), Image.BICUBIC))
    pjpeg = jpeg_of(thumb)

    valid: dict[str, bytes] = {}
    for o in (1, 3, 6, 8):
        valid[f"o{o}.dng"] = dng(rgb, orientation=o)
        valid[f"o{o}_preview.dng"] = dng(rgb, orientation=o, preview=pjpeg, preview_size=(120, 90))
    valid["o6_preview_sub.dng"] = dng(rgb, orientation=6, preview=pjpeg, preview_size=(120, 90),
                                      preview_in_subifd=True)
    odd = scene(101, 77, seed=6)
    valid["odd.dng"] = dng(odd, neutral=(0.6, 1.0, 0.4), model="Odd")
    valid["odd_o6.dng"] = dng(odd, orientation=6, neutral=(0.6, 1.0, 0.4), model="Odd")
    valid["warm.dng"] = dng(scene(64, 64, seed=7), neutral=(0.9, 1.0, 0.3), model="Warm")

    # Exact mode: LibRaw's full demosaic, oriented unless EXIF is ignored.
    for name, data in valid.items():
        ref = render(tmp, data)
        c.ok(name, data, ref, tol=1)
        c.limit(f"valid/{name}", ref.shape[1], ref.shape[0])
    c.ok("o6_noexif.dng", valid["o6.dng"], render(tmp, valid["o6.dng"], "-t", "0"), exif=0, tol=1)
    c.ok("o8_preview_noexif.dng", valid["o8_preview.dng"],
         render(tmp, valid["o8_preview.dng"], "-t", "0"), exif=0, tol=1)

    # Fast mode: the half-size demosaic when no preview is big enough. The
    # tensor is min_short pixels wide, so the half-size image is about 2x
    # it here, as a camera's is (~10x) for a 224-pixel model: per-pixel
    # demosaicking differences wash out as they do there.
    for name in ("o1.dng", "o6.dng", "odd.dng", "odd_o6.dng", "warm.dng"):
        if "odd" not in name:
            # dcraw_emu -h asks for half size before identifying the file,
            # which trims an odd width or height to even; raw.c asks after
            # (as dcraw does) and keeps the last, partial cell. Even sizes
            # are the same either way.
            c.ok(f"half_{name}", valid[name], render(tmp, valid[name], "-h"), min_short=20,
                 tol=1)
        for min_short in (16, 20):
            c.fast(f"valid/{name}", min_short)
    # A preview smaller than min_short: half size when that is big enough,
    # else the full demosaic.
    c.fast("valid/o3_preview.dng", 24)
    c.fast("valid/o3_preview.dng", 100)
    # ... and the JPEG preview (scaled by the JPEG decoder) when it is.
    for name, o in (("o1_preview.dng", 1), ("o3_preview.dng", 3), ("o6_preview.dng", 6),
                    ("o8_preview.dng", 8), ("o6_preview_sub.dng", 6)):
        for min_short in (40, 80):
            c.ok(f"fast{min_short}_{name}", valid[name], pil_draft(pjpeg, min_short, o),
                 min_short=min_short, tol=1)
            c.fast(f"valid/{name}", min_short)
    # A preview of another shape (a 1:1 crop) is not the same picture: the
    # half-size demosaic is used instead.
    square = jpeg_of(np.asarray(Image.fromarray(full).crop((16, 0, 112, 96))))
    sq = dng(rgb, orientation=6, preview=square, preview_size=(96, 96))
    c.ok("square_preview.dng", sq, render(tmp, sq, "-h"), min_short=20, tol=1)
    c.fast(c.write("valid/square_preview_fast.dng", sq), 20)

    # Damaged files.
    c.err("huge.dng", huge(60000, 60000), "LIMIT")
    c.err("wide.dng", huge(64000, 6000), "LIMIT")
    c.err("raf_signature.raf", b"FUJIFILMCCD-RAW 0201FF383501" + bytes(64), "FORMAT")
    c.err("orf_signature.orf", b"IIRO\x08\0\0\0" + bytes(8), "FORMAT")
    c.err("cut_strip.dng", upright[: len(upright) - 5000], "CORRUPT")
    # (Cut inside the RAW data of a file with a preview, fast mode shows
    # the preview: it never reads the RAW data then.)
    c.err("strip_past_end.dng", strip_moved(upright, len(upright) + 1000), "CORRUPT")

    for i, data in enumerate(bit_flips(valid["o1.dng"], 70, seed=41)):
        c.flip(f"flip_{i:03d}.dng", data)
    for i, data in enumerate(bit_flips(valid["o6_preview.dng"], 50, seed=42)):
        c.flip(f"flip_preview_{i:03d}.dng", data)
    # Flips in the header only (the IFDs), where the damage is harder.
    head = len(valid["o1.dng"]) - len(mosaic(rgb).tobytes())
    for i, data in enumerate(bit_flips(valid["o1.dng"][:head], 40, seed=43)):
        c.flip(f"flip_head_{i:03d}.dng", data + valid["o1.dng"][head:])

    for name in ("o1.dng", "o6_preview.dng", "odd_o6.dng"):
        c.trunc(f"valid/{name}")

    # Plain TIFFs: the RAW sniffer must leave them to the TIFF decoder.
    for name, data in plain_tiffs().items():
        not_raw(c, name, data)
    c.save()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
