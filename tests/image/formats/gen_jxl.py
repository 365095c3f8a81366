#!/usr/bin/python3
"""JPEG XL corpus for test_formats.c (see corpus.py).

Files come from Debian's cjxl 0.7 (lossless and lossy from PNG, alpha,
16-bit, grey, animations from APNG and GIF, JPEG recompression with an EXIF
orientation); the reference is djxl's PNG read by PIL (16-bit PNGs for
deeper images, of which PIL keeps the high byte), alpha composited on the
case's background, first frame of an animation.

Usage: gen_jxl.py OUTDIR
"""
from __future__ import annotations

import struct
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import WHITE, Corpus, alpha_ramp, bit_flips, composite, picture, tiff  # noqa: E402
from tool_corpus import Scratch, close_to  # noqa: E402
from gen_decode_corpus import png_chunk, write_png  # noqa: E402

BG = (200, 40, 90)


# ------------------------------------------------- codestream size header

class Bits:
    """JPEG XL's bit order: least significant bit of each byte first."""

    def __init__(self, data: bytes, pos=0):
        self.data, self.pos = data, pos

    def read(self, n: int) -> int:
        v = 0
        for i in range(n):
            byte = self.data[self.pos >> 3]
            v |= ((byte >> (self.pos & 7)) & 1) << i
            self.pos += 1
        return v


def put(bits: list[int], value: int, n: int):
    bits.extend((value >> i) & 1 for i in range(n))


U32_BITS = (9, 13, 18, 30)


def with_size(stream: bytes, w: int, h: int) -> bytes:
    """A bare codestream (FF 0A ...) whose SizeHeader declares w x h, the
    rest of the bit stream unchanged."""
    assert stream[:2] == b"\xff\x0a"
    r = Bits(stream, 16)
    small = r.read(1)
    if small:
        r.read(5)
    else:
        r.read(U32_BITS[r.read(2)])
    ratio = r.read(3)
    if ratio == 0:
        if small:
            r.read(5)
        else:
            r.read(U32_BITS[r.read(2)])
    bits: list[int] = []
    put(bits, 0, 1)                    # not div8
    put(bits, 3, 2)                    # ysize - 1 in 30 bits
    put(bits, h - 1, 30)
    put(bits, 0, 3)                    # explicit xsize
    put(bits, 3, 2)
    put(bits, w - 1, 30)
    rest = Bits(stream, r.pos)
    while rest.pos < len(stream) * 8:
        bits.append(rest.read(1))
    bits.extend([0] * (-len(bits) % 8))
    body = bytes(sum(bits[i + k] << k for k in range(8)) for i in range(0, len(bits), 8))
    return b"\xff\x0a" + body


def container(stream: bytes) -> bytes:
    """The codestream in the ISO media container (signature, ftyp, jxlc)."""
    sig = struct.pack(">I4s", 12, b"JXL ") + b"\r\n\x87\n"
    ftyp = struct.pack(">I4s4sI4s", 20, b"ftyp", b"jxl ", 0, b"jxl ")
    return sig + ftyp + struct.pack(">I4s", 8 + len(stream), b"jxlc") + stream


# ------------------------------------------------------------ the corpus

class Tools(Scratch):
    """cjxl, and djxl (the reference)."""

    def __init__(self, tmp: Path):
        super().__init__(tmp, ["djxl"])

    def cjxl(self, src: Path, *args: str) -> bytes:
        return self.encode(["cjxl", "{src}", "{out}", *args], src, ".jxl")


def add_valid(c: Corpus, t: Tools) -> dict[str, bytes]:
    files: dict[str, bytes] = {}

    def ok(name, data, ref, exif=1, bg=WHITE):
        files[name] = data
        c.ok(name, data, ref, exif=exif, bg=bg, tol=0)

    pic = picture(96, 64, 1)
    src = t.png(pic)
    odd = picture(97, 61, 2)
    gray = picture(80, 48, 3)[..., 0]
    rgba = np.dstack([picture(96, 64, 4), alpha_ramp(96, 64)])
    la = np.dstack([gray, alpha_ramp(80, 48)])
    for name, data, source, limit in [
            ("lossless.jxl", t.cjxl(src, "-d", "0"), pic, 0),
            ("lossy.jxl", t.cjxl(src, "-d", "1"), pic, 15),
            ("lossy_e3.jxl", t.cjxl(src, "-d", "2", "-e", "3"), pic, 20),
            ("progressive.jxl", t.cjxl(src, "-d", "1", "-p"), pic, 15),
            ("container.jxl", t.cjxl(src, "-d", "1", "--container=1"), pic, 15),
            ("odd.jxl", t.cjxl(t.png(odd), "-d", "1"), odd, 15),
            ("odd_lossless.jxl", t.cjxl(t.png(odd), "-d", "0"), odd, 0),
            ("gray.jxl", t.cjxl(t.png(gray), "-d", "0"), np.dstack([gray] * 3), 0),
            ("gray_lossy.jxl", t.cjxl(t.png(gray), "-d", "1"), np.dstack([gray] * 3), 15)]:
        ref = t.reference(data)
        close_to(source, ref, limit, name)
        ok(name, data, ref)

    # A source in another colour space (gAMA 1.0, which cjxl records as an
    # enumerated encoding): a lossy file decodes to that space's samples,
    # as djxl writes them and the PNG itself reads, not converted to sRGB.
    linear = t.path(".png")
    plain_png = write_png(pic, 2, 8)
    linear.write_bytes(plain_png[:33] + png_chunk(b"gAMA", struct.pack(">I", 100000)) +
                       plain_png[33:])
    data = t.cjxl(linear, "-d", "1")
    ref = t.reference(data)
    close_to(pic, ref, 15, "gamma1_lossy.jxl")
    ok("gamma1_lossy.jxl", data, ref)

    # Alpha (RGBA and grey + alpha), on white and on a colour.
    for name, data in [("alpha.jxl", t.cjxl(t.png(rgba), "-d", "0")),
                       ("alpha_lossy.jxl", t.cjxl(t.png(rgba), "-d", "1")),
                       ("gray_alpha.jxl", t.cjxl(t.png(la), "-d", "0"))]:
        ok(name, data, t.reference(data))
        ok("bg_" + name, data, t.reference(data, BG), bg=BG)
    close_to(composite(rgba, BG), t.reference(files["alpha.jxl"], BG), 0, "alpha.jxl")

    # 16-bit sources: djxl writes 16-bit PNGs, PIL keeps their high byte.
    deep = picture(96, 64, 5).astype(np.uint32) * 257
    deep += np.random.default_rng(5).integers(0, 256, deep.shape, dtype=np.uint32)
    deep = np.minimum(deep, 65535).astype(np.uint16)
    src16 = t.path(".png")
    src16.write_bytes(write_png(deep, 2, 16))
    # (No 16-bit source with alpha: cjxl 0.7 gives such a file an 8-bit
    # alpha channel next to 16-bit colour, which djxl then refuses to
    # write as PNG, so there is no reference.)
    for name, data, limit in [("16bit.jxl", t.cjxl(src16, "-d", "0"), 0),
                              ("16bit_lossy.jxl", t.cjxl(src16, "-d", "1"), 15)]:
        ref = t.reference(data)
        close_to((deep >> 8).astype(np.uint8), ref, limit, name)
        ok(name, data, ref)

    # Recompressed JPEGs (the default for JPEG input), and the EXIF
    # orientation cjxl moves into the codestream header: applied with
    # apply_exif, ignored without (then the stored pixels, which the same
    # JPEG without EXIF decodes to).
    upright = Image.fromarray(picture(96, 64, 6))
    plain = t.path(".jpg")
    upright.save(plain, quality=90)
    stored = t.reference(t.cjxl(plain))
    ok("jpeg.jxl", t.cjxl(plain), stored)
    jpeg_gray = t.path(".jpg")
    Image.fromarray(gray).save(jpeg_gray, quality=85)
    ok("jpeg_gray.jxl", t.cjxl(jpeg_gray), t.reference(t.cjxl(jpeg_gray)))
    jpeg444 = t.path(".jpg")
    upright.save(jpeg444, quality=95, subsampling=0)
    ok("jpeg444.jxl", t.cjxl(jpeg444), t.reference(t.cjxl(jpeg444)))
    ok("jpeg_lossy.jxl", t.cjxl(plain, "--lossless_jpeg=0", "-d", "1"),
       t.reference(t.cjxl(plain, "--lossless_jpeg=0", "-d", "1")))
    for orientation in range(2, 9):
        jpg = t.path(".jpg")
        upright.save(jpg, quality=90, exif=b"Exif\0\0" + tiff(orientation))
        data = t.cjxl(jpg)
        ref = t.reference(data)
        # djxl applies it the way PIL's exif_transpose() does.
        want = np.asarray(ImageOps.exif_transpose(Image.open(jpg)).convert("RGB"))
        close_to(want, ref, 4, f"orient{orientation}.jxl")
        ok(f"orient{orientation}.jxl", data, ref)
        ok(f"noexif_orient{orientation}.jxl", data, stored, exif=0)

    # Animations: the first frame.
    frames = [Image.fromarray(picture(64, 48, s)) for s in (7, 8, 9)]
    apng, gif = t.path(".png"), t.path(".gif")
    frames[0].save(apng, save_all=True, append_images=frames[1:], duration=100, loop=0)
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=100, loop=0)
    for name, data in [("anim_apng.jxl", t.cjxl(apng, "-d", "0")),
                       ("anim_apng_lossy.jxl", t.cjxl(apng, "-d", "1")),
                       ("anim_gif.jxl", t.cjxl(gif))]:
        ref = t.reference(data)
        close_to(np.asarray(frames[0].convert("RGB")), ref, 40 if "gif" in name else 15, name)
        ok(name, data, ref)

    large = picture(640, 480, 10)
    ok("large.jxl", t.cjxl(t.png(large), "-d", "1", "-e", "3"),
       t.reference(t.cjxl(t.png(large), "-d", "1", "-e", "3")))
    return files


def add_bad(c: Corpus, files: dict[str, bytes]):
    bare = files["lossy.jxl"]
    assert bare[:2] == b"\xff\x0a"
    # Declared sizes over the limits: refused at the header.
    c.err("huge.jxl", with_size(bare, 60000, 60000), "LIMIT")
    c.err("huge_container.jxl", container(with_size(bare, 30000, 30000)), "LIMIT")
    c.err("wide.jxl", with_size(bare, 1 << 20, 1), "LIMIT")
    c.err("giant.jxl", with_size(files["lossless.jxl"], 1 << 30, 1 << 30), "LIMIT")
    # Only the signature; a cut header; the image data cut.
    c.err("signature.jxl", b"\xff\x0a", "CORRUPT")
    c.err("signature_container.jxl", container(b"")[:12], "CORRUPT")
    c.err("cut_header.jxl", bare[:6], "CORRUPT")
    c.err("cut_half.jxl", bare[:len(bare) // 2], "CORRUPT")
    c.err("cut_half_lossless.jxl", files["lossless.jxl"][:len(files["lossless.jxl"]) // 2],
          "CORRUPT")
    c.err("cut_container.jxl", files["jpeg.jxl"][:len(files["jpeg.jxl"]) * 2 // 3], "CORRUPT")

    flips = 0
    for i, name in enumerate(["lossless.jxl", "lossy.jxl", "alpha_lossy.jxl", "16bit.jxl",
                              "jpeg.jxl", "orient6.jxl", "anim_apng.jxl", "progressive.jxl"]):
        for k, damaged in enumerate(bit_flips(files[name], 12, seed=300 + i)):
            c.flip(f"flip_{k}_{name}", damaged)
            flips += 1
        # The headers, where one bit changes the meaning of all that follows.
        head = 40 if files[name][:2] == b"\xff\x0a" else 120
        for k, damaged in enumerate(bit_flips(files[name][:head], 4, seed=400 + i)):
            c.flip(f"flip_head_{k}_{name}", damaged + files[name][head:])
            flips += 1
    assert flips >= 100


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    c = Corpus(Path(argv[1]))
    with tempfile.TemporaryDirectory() as tmp:
        files = add_valid(c, Tools(Path(tmp)))
    add_bad(c, files)
    for name in ["lossless.jxl", "lossy.jxl", "alpha.jxl", "jpeg.jxl", "anim_apng.jxl",
                 "progressive.jxl"]:
        c.trunc(f"valid/{name}")
    for name, (w, h) in [("lossy.jxl", (96, 64)), ("odd_lossless.jxl", (97, 61)),
                         ("orient6.jxl", (64, 96)), ("16bit.jxl", (96, 64)),
                         ("large.jxl", (640, 480))]:
        c.limit(f"valid/{name}", w, h)
    # libjxl 0.7 has no cheaper reduced decode: fast mode is exact mode.
    for name, short in [("large.jxl", 224), ("lossy.jxl", 32), ("orient6.jxl", 48),
                        ("alpha.jxl", 32)]:
        c.fast(f"valid/{name}", short)
    c.save()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
