#!/usr/bin/python3
"""TIFF corpus for test_formats.c: files written by PIL and ImageMagick,
references from PIL 9.4 (Image.open(f) -> exif_transpose -> convert("RGB")
or convert("RGBA") composited on the background).

One deliberate deviation, shared with lib/image/png.c: PIL opens 16-bit
grey as mode "I;16" and its convert("RGB") clips every value above 255 to
white; the decoder (and so the reference here) keeps the high byte.

Usage: gen_tiff.py OUTDIR
"""
from __future__ import annotations

import io
import struct
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus  # noqa: E402
from corpus import WHITE, Corpus, alpha_ramp, picture, pil_rgb  # noqa: E402

BG = (40, 90, 200)
W, H = 61, 43  # odd sizes: partial strips, tiles and bytes of bits


def pil_tiff(im: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="TIFF", **kw)
    return buf.getvalue()



def magick(im: Image.Image, *args: str) -> bytes:
    return corpus.magick(im, ".tif", *args)


def reference(data: bytes, alpha: bool, bg=WHITE, exif=True) -> np.ndarray:
    """PIL's pixels. PIL 9.4 applies a TIFF's Orientation tag itself when it
    loads the pixels (TiffImageFile.load_end) and leaves the tag in place,
    so ImageOps.exif_transpose() (corpus.transposed()) would apply it
    a second time: Image.open(f).convert() alone is the upright image. With
    EXIF off, the reference is the file with its tag set to 1."""
    if not exif:
        data = with_orientation(data, 1)
    return pil_rgb(Image.open(io.BytesIO(data)), alpha, bg)


def with_orientation(data: bytes, value: int) -> bytes:
    try:
        return patch_short(data, 274, value)
    except KeyError:
        return data


def grey16_reference(data: bytes) -> np.ndarray:
    """16-bit grey: the high byte (PIL would clip to 255, see the top)."""
    im = Image.open(io.BytesIO(data))
    hi = (np.asarray(im).astype(np.uint32) >> 8).astype(np.uint8)
    return np.repeat(hi[..., None], 3, axis=2)


# --------------------------------------------------- hand-made structures


def ifd_entries(data: bytes) -> tuple[str, int, list[tuple[int, int, int, int]]]:
    """(byte order, IFD0 offset, [(entry offset, tag, type, count)])."""
    e = "<" if data[:2] == b"II" else ">"
    ifd = struct.unpack(e + "L", data[4:8])[0]
    n = struct.unpack(e + "H", data[ifd:ifd + 2])[0]
    out = []
    for i in range(n):
        at = ifd + 2 + 12 * i
        tag, typ, count = struct.unpack(e + "HHL", data[at:at + 8])
        out.append((at, tag, typ, count))
    return e, ifd, out


def patch_short(data: bytes, tag: int, value: int) -> bytes:
    """Sets the (inline, SHORT) value of an IFD0 tag."""
    e, _, entries = ifd_entries(data)
    for at, t, typ, _count in entries:
        if t == tag:
            assert typ == 3
            out = bytearray(data)
            out[at + 8:at + 10] = struct.pack(e + "H", value)
            return bytes(out)
    raise KeyError(tag)


def patch_long(data: bytes, tag: int, value: int) -> bytes:
    e, _, entries = ifd_entries(data)
    for at, t, typ, _count in entries:
        if t == tag:
            out = bytearray(data)
            if typ == 3:
                out[at + 8:at + 10] = struct.pack(e + "H", value)
            else:
                out[at + 8:at + 12] = struct.pack(e + "L", value)
            return bytes(out)
    raise KeyError(tag)


def mini_tiff(width: int, height: int, pixels: bytes, bps=8, spp=3, photometric=2,
              strip_offset=None, strip_bytes=None, extra: list | None = None) -> bytes:
    """A little-endian single-strip uncompressed TIFF written by hand."""
    entries = [
        (256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, bps), (259, 3, 1, 1),
        (262, 3, 1, photometric), (273, 4, 1, 0), (277, 3, 1, spp), (278, 4, 1, height),
        (279, 4, 1, len(pixels) if strip_bytes is None else strip_bytes),
    ] + (extra or [])
    entries.sort()
    ifd_size = 2 + 12 * len(entries) + 4
    data_at = 8 + ifd_size
    body = struct.pack("<H", len(entries))
    for tag, typ, count, value in entries:
        if tag == 273:
            value = data_at if strip_offset is None else strip_offset
        field = struct.pack("<H", value) + b"\0\0" if typ == 3 else struct.pack("<L", value)
        body += struct.pack("<HHL", tag, typ, count) + field
    body += struct.pack("<L", 0)
    return b"II*\0" + struct.pack("<L", 8) + body + pixels


# -------------------------------------------------------------- the cases


def add_valid(c: Corpus) -> dict[str, bytes]:
    rgb = Image.fromarray(picture(W, H, seed=3))
    rgba_arr = np.dstack([picture(W, H, seed=4), alpha_ramp(W, H)])
    rgba = Image.fromarray(rgba_arr, "RGBA")
    grey = rgb.convert("L")
    files: dict[str, bytes] = {}

    def ok(name, data, alpha=False, bg=WHITE, ref=None):
        files[name] = data
        r = reference(data, alpha, bg) if ref is None else ref
        c.ok(name, data, r, bg=bg)

    # RGB in every compression libtiff and PIL share.
    for comp in ("raw", "tiff_lzw", "tiff_adobe_deflate", "packbits"):
        ok(f"rgb8_{comp}.tif", pil_tiff(rgb, compression=comp))
    ok("rgb8_jpeg_pil.tif", pil_tiff(rgb, compression="jpeg", quality=90))
    # YCbCr JPEG: libtiff's RGBA interface, libjpeg converting to RGB.
    ok("ycbcr_jpeg_pil.tif", pil_tiff(rgb.convert("YCbCr"), compression="jpeg"))
    ok("ycbcr_jpeg_magick.tif", magick(rgb, "-colorspace", "YCbCr", "-compress", "jpeg"))
    ok("ycbcr_jpeg_tiled.tif", magick(rgb, "-colorspace", "YCbCr", "-compress", "jpeg",
                                      "-define", "tiff:tile-geometry=32x32"))
    ok("rgb8_lzw_predictor.tif", magick(rgb, "-compress", "lzw", "-define",
                                        "tiff:predictor=2"))
    ok("rgb8_bigendian.tif", magick(rgb, "-endian", "MSB", "-compress", "none"))
    ok("rgb8_jpeg_rgb.tif", magick(rgb, "-compress", "jpeg", "-define",
                                   "tiff:photometric=rgb", "-quality", "92"))
    ok("rgb8_jpeg_magick.tif", magick(rgb, "-compress", "jpeg", "-quality", "85"))
    # Planar and tiled layouts (partial tiles on both edges).
    ok("rgb8_planar.tif", magick(rgb, "-interlace", "plane", "-compress", "none"))
    ok("rgb8_planar_lzw.tif", magick(rgb, "-interlace", "plane", "-compress", "lzw"))
    ok("rgb8_tiled.tif", magick(rgb, "-define", "tiff:tile-geometry=16x16",
                                "-compress", "none"))
    ok("rgb8_tiled_deflate.tif", magick(rgb, "-define", "tiff:tile-geometry=32x16",
                                        "-compress", "zip"))
    ok("rgb8_tiled_planar.tif", magick(rgb, "-define", "tiff:tile-geometry=16x32",
                                       "-interlace", "plane", "-compress", "lzw"))
    ok("rgb8_strips3.tif", magick(rgb, "-define", "tiff:rows-per-strip=3",
                                  "-compress", "rle"))
    # 16-bit: PIL keeps the high byte.
    ok("rgb16.tif", magick(rgb, "-depth", "16", "-compress", "none"))
    ok("rgb16_bigendian_lzw.tif", magick(rgb, "-depth", "16", "-endian", "MSB",
                                         "-compress", "lzw"))
    ok("rgba16.tif", magick(rgba, "-depth", "16", "-compress", "zip"), alpha=True, bg=BG)
    # Alpha: unassociated (PIL's RGBA) and associated (PIL's RGBa,
    # un-premultiplied on convert), on a coloured background.
    ok("rgba8.tif", pil_tiff(rgba), alpha=True, bg=BG)
    ok("rgba8_lzw_white.tif", pil_tiff(rgba, compression="tiff_lzw"), alpha=True)
    premul = rgba_arr.copy()
    premul[..., :3] = (rgba_arr[..., :3].astype(np.uint32) * rgba_arr[..., 3:4] // 255)
    assoc = patch_short(pil_tiff(Image.fromarray(premul, "RGBA")), 338, 1)
    ok("rgba8_associated.tif", assoc, alpha=True, bg=BG)
    ok("rgba8_planar_magick.tif", magick(rgba, "-interlace", "plane", "-compress", "lzw"),
       alpha=True, bg=BG)
    ok("rgbx8.tif", patch_short(pil_tiff(rgba), 338, 0))
    # Grey, bilevel, palette.
    ok("grey8.tif", pil_tiff(grey))
    ok("grey8_deflate.tif", pil_tiff(grey, compression="tiff_adobe_deflate"))
    ok("grey8_miniswhite.tif", patch_short(pil_tiff(grey), 262, 0))
    ok("grey4.tif", magick(grey, "-depth", "4", "-compress", "none"))
    ok("grey2.tif", magick(grey, "-depth", "2", "-compress", "lzw"))
    ok("greya8.tif", pil_tiff(Image.fromarray(rgba_arr, "RGBA").convert("LA")), alpha=True,
       bg=BG)
    g16 = Image.fromarray((np.asarray(grey).astype(np.uint16) * 257 + 3).astype("<u2"), "I;16")
    data = pil_tiff(g16)
    files["grey16.tif"] = data
    c.ok("grey16.tif", data, grey16_reference(data))
    data = magick(grey, "-depth", "16", "-endian", "MSB", "-compress", "zip")
    files["grey16_magick.tif"] = data
    c.ok("grey16_magick.tif", data, grey16_reference(data))
    bilevel = grey.point(lambda v: 255 if v > 120 else 0).convert("1")
    ok("bilevel.tif", pil_tiff(bilevel))
    ok("bilevel_miniswhite.tif", patch_short(pil_tiff(bilevel), 262, 0))
    ok("bilevel_group4.tif", pil_tiff(bilevel, compression="group4"))
    ok("bilevel_packbits.tif", pil_tiff(bilevel, compression="packbits"))
    pal = rgb.quantize(200)
    ok("palette8.tif", pil_tiff(pal))
    ok("palette8_lzw.tif", pil_tiff(pal, compression="tiff_lzw"))
    ok("palette4.tif", magick(rgb.quantize(16), "-type", "Palette", "-depth", "4",
                              "-compress", "none"))
    pa = rgb.quantize(64).convert("PA")
    pa.putalpha(Image.fromarray(alpha_ramp(W, H)))
    ok("palette_alpha.tif", pil_tiff(pa), alpha=True, bg=BG)
    # CMYK (PIL's cmyk2rgb), 8 and 16 bit.
    cmyk = rgb.convert("CMYK")
    cmyk_arr = np.asarray(cmyk).copy()
    cmyk_arr[..., 3] = np.asarray(grey) // 3  # real black ink
    cmyk = Image.fromarray(cmyk_arr, "CMYK")
    ok("cmyk8.tif", pil_tiff(cmyk))
    ok("cmyk8_lzw.tif", pil_tiff(cmyk, compression="tiff_lzw"))
    ok("cmyk8_magick.tif", magick(rgb, "-colorspace", "cmyk", "-compress", "zip"))
    ok("cmyk16_magick.tif", magick(rgb, "-colorspace", "cmyk", "-depth", "16",
                                   "-compress", "none"))
    # The first page of a multi-page file.
    buf = io.BytesIO()
    rgb.save(buf, format="TIFF", save_all=True, append_images=[grey, rgba])
    ok("multipage.tif", buf.getvalue())
    # A larger picture for the fast and limit cases.
    big = Image.fromarray(picture(300, 200, seed=9))
    ok("large_lzw.tif", pil_tiff(big, compression="tiff_lzw"))
    ok("large_jpeg.tif", pil_tiff(big, compression="jpeg"))
    return files


def exif_transposed(stored: np.ndarray, orientation: int) -> np.ndarray:
    """ImageOps.exif_transpose() of pixels in stored order."""
    im = Image.fromarray(stored)
    im.getexif()[0x0112] = orientation
    return np.asarray(ImageOps.exif_transpose(im))


def add_orientation(c: Corpus):
    rgb = Image.fromarray(picture(W, H, seed=5))

    def ok(name, data, alpha=False, bg=WHITE):
        ref = reference(data, alpha, bg)
        stored = reference(data, alpha, bg, exif=False)
        o = Image.open(io.BytesIO(data)).tag_v2.get(274, 1)
        # The upright picture is exif_transpose() of the stored pixels:
        # what the decoder's stored order plus decode.c's EXIF step give.
        assert np.array_equal(ref, exif_transposed(stored, o)), name
        c.ok(name, data, ref, bg=bg)
        c.ok(f"noexif_{name}", data, stored, bg=bg, exif=0)

    for o in range(1, 9):
        ok(f"orient{o}.tif", pil_tiff(rgb, tiffinfo={274: o}))
    ok("orient6_jpeg.tif", pil_tiff(rgb, tiffinfo={274: 6}, compression="jpeg"))
    ok("orient5_ycbcr_jpeg.tif", pil_tiff(rgb.convert("YCbCr"), tiffinfo={274: 5},
                                          compression="jpeg"))
    ok("orient8_tiled_magick.tif", magick(rgb, "-orient", "left-bottom", "-define",
                                          "tiff:tile-geometry=16x16", "-compress", "lzw"))
    ok("orient6_magick_alpha.tif", magick(rgb.convert("RGBA"), "-orient", "right-top",
                                          "-compress", "zip"), alpha=True, bg=BG)


def add_bad(c: Corpus, files: dict[str, bytes]):
    px = bytes(picture(4, 4).tobytes())
    c.err("huge_width.tif", mini_tiff(70000, 4, px), "LIMIT")
    c.err("huge_both.tif", mini_tiff(40000, 40000, px), "LIMIT")
    c.err("huge_height_tiny_strip.tif", mini_tiff(4, 65501, px), "LIMIT")
    c.err("signature_only.tif", b"II*\0", "CORRUPT")
    c.err("signature_only_be.tif", b"MM\0*", "CORRUPT")
    c.err("header_only.tif", b"II*\0\x08\0\0\0", "CORRUPT")
    c.err("ifd_past_end.tif", b"II*\0\x00\x10\0\0" + b"\0" * 16, "CORRUPT")
    c.err("strip_past_end.tif", mini_tiff(4, 4, px, strip_offset=100000), "CORRUPT")
    c.err("strip_longer_than_file.tif", mini_tiff(4, 4, px[:20], strip_bytes=len(px)),
          "CORRUPT")
    c.err("zero_width.tif", mini_tiff(0, 4, px), "CORRUPT")
    raw = files["rgb8_raw.tif"]
    c.err("truncated_pixels.tif", raw[: len(raw) // 2], "CORRUPT")
    lzw = files["rgb8_tiff_lzw.tif"]
    c.err("lzw_garbage.tif", lzw[:8] + bytes(b ^ 0x5A for b in lzw[8:len(lzw) // 2]) +
          lzw[len(lzw) // 2:], "CORRUPT")
    c.err("float32.tif", pil_tiff(Image.fromarray(np.ones((4, 4), np.float32), "F")),
          "UNSUPPORTED")
    c.err("lab.tif", pil_tiff(Image.new("LAB", (4, 4))), "UNSUPPORTED")
    c.err("compression_unknown.tif", patch_long(raw, 259, 40000), "UNSUPPORTED")

    seeds = ["rgb8_raw.tif", "rgb8_tiff_lzw.tif", "ycbcr_jpeg_pil.tif", "rgb8_tiled_planar.tif",
             "palette4.tif", "bilevel_group4.tif", "rgba8_associated.tif", "cmyk16_magick.tif"]
    c.flips(files, seeds, 20, 100, "tif")
    for name in ("rgb8_raw.tif", "rgb8_tiff_lzw.tif", "ycbcr_jpeg_pil.tif",
                 "rgb8_tiled_deflate.tif", "grey16.tif", "bilevel_group4.tif"):
        c.trunc(f"valid/{name}")
    c.limit("valid/large_lzw.tif", 300, 200)
    c.limit("valid/rgb8_tiled_planar.tif", W, H)
    c.limit("valid/ycbcr_jpeg_pil.tif", W, H)
    c.fast("valid/large_lzw.tif", 64)
    c.fast("valid/large_jpeg.tif", 100)
    c.fast("valid/orient6_jpeg.tif", 16)


def main(argv: list[str]) -> int:
    c = Corpus(Path(argv[1]))
    files = add_valid(c)
    add_orientation(c)
    add_bad(c, files)
    c.save()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
