#!/usr/bin/python3
"""WebP corpus for test_formats.c: files written by PIL, cwebp, img2webp,
gif2webp and webpmux; references from PIL 9.4 (Image.open(f) ->
exif_transpose -> convert("RGB"), or convert("RGBA") composited on the
background when PIL opens the file as RGBA). Both sides run libwebp with
the same options, so every case must match exactly (tolerance 0).

PIL opens every WebP through WebPAnimDecoder; an animation shows its first
frame on the canvas (transparent where frame 1 does not reach: black once
PIL drops the alpha of a file without the VP8X alpha flag). PIL 9.4 reads
the EXIF chunk into info["exif"], so exif_transpose() applies its
orientation: the references here include it.

Usage: gen_webp.py OUTDIR [--seeds DIR]

--seeds DIR also writes a few tiny valid files for the fuzzer's seed corpus.
"""
from __future__ import annotations

import io
import struct
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import (WHITE, Corpus, alpha_ramp, picture, pil_rgb, run, tiff,  # noqa: E402
                    transposed)

BG = (40, 90, 200)
W, H = 67, 45  # odd sizes: partial macroblocks and chroma samples


def rgb(w: int, h: int, seed: int = 1) -> Image.Image:
    return Image.fromarray(picture(w, h, seed))


def rgba(w: int, h: int, seed: int = 1) -> Image.Image:
    return Image.fromarray(np.dstack([picture(w, h, seed), alpha_ramp(w, h)]), "RGBA")


def pil_webp(im: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="WEBP", **kw)
    return buf.getvalue()


def reference(data: bytes, bg=WHITE, exif=True) -> np.ndarray:
    """What PIL shows: RGBA files composited on bg, EXIF applied."""
    im = Image.open(io.BytesIO(data))
    alpha = im.mode == "RGBA"
    if exif:
        im = transposed(im)
    return pil_rgb(im, alpha, bg)


def tool(cmd: str, src: Image.Image | list[Image.Image], *args: str) -> bytes:
    """cwebp or img2webp on PNG input."""
    with tempfile.TemporaryDirectory() as d:
        dst = Path(d) / "out.webp"
        ins = []
        for i, im in enumerate(src if isinstance(src, list) else [src]):
            p = Path(d) / f"in{i}.png"
            im.save(p)
            ins.append(str(p))
        run([cmd, *args, *ins, "-o", str(dst)])
        return dst.read_bytes()


def chunk(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("<I", len(payload)) + payload + (b"\0" if len(payload) & 1 else b"")


def riff(*chunks: bytes) -> bytes:
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def vp8x(w: int, h: int, flags: int) -> bytes:
    return chunk(b"VP8X", bytes([flags, 0, 0, 0]) + (w - 1).to_bytes(3, "little") +
                 (h - 1).to_bytes(3, "little"))


def chunks_of(data: bytes) -> list[tuple[bytes, bytes]]:
    out, pos = [], 12
    while pos + 8 <= len(data):
        n = struct.unpack("<I", data[pos + 4:pos + 8])[0]
        out.append((data[pos:pos + 4], data[pos + 8:pos + 8 + n]))
        pos += 8 + n + (n & 1)
    return out


def animation(cw: int, ch: int, frames: list[tuple[int, int, bytes]], alpha: bool) -> bytes:
    """An animated WebP by hand: each frame is (x, y, still WebP file) whose
    image chunks (ALPH, VP8 or VP8L) go into an ANMF at that offset."""
    anmfs = []
    for x, y, still in frames:
        im = Image.open(io.BytesIO(still))
        body = b"".join(chunk(k, p) for k, p in chunks_of(still) if k in (b"ALPH", b"VP8 ", b"VP8L"))
        head = ((x // 2).to_bytes(3, "little") + (y // 2).to_bytes(3, "little") +
                (im.width - 1).to_bytes(3, "little") + (im.height - 1).to_bytes(3, "little") +
                (100).to_bytes(3, "little") + bytes([0]))
        anmfs.append(chunk(b"ANMF", head + body))
    anim = chunk(b"ANIM", bytes([0x10, 0x20, 0x30, 0xFF]) + struct.pack("<H", 0))
    return riff(vp8x(cw, ch, 0x02 | (0x10 if alpha else 0)), anim, *anmfs)


def add_stills(c: Corpus) -> dict[str, bytes]:
    files = {}

    def add(name, data, bg=WHITE):
        files[name] = data
        c.ok(name, data, reference(data, bg), bg=bg)

    add("lossy.webp", pil_webp(rgb(W, H), quality=80))
    add("lossy_q5.webp", pil_webp(rgb(W, H, 2), quality=5))
    add("lossy_q100_m6.webp", pil_webp(rgb(W, H, 3), quality=100, method=6))
    add("lossy_1x1.webp", pil_webp(rgb(1, 1), quality=90))
    add("lossy_2x3.webp", pil_webp(rgb(2, 3), quality=90))
    add("lossy_301x199.webp", pil_webp(rgb(301, 199, 4), quality=75))
    add("lossy_tall.webp", pil_webp(rgb(33, 170, 5), quality=70))
    add("lossless.webp", pil_webp(rgb(W, H), lossless=True))
    add("lossless_1x1.webp", pil_webp(rgb(1, 1, 6), lossless=True))
    add("grey.webp", pil_webp(rgb(W, H, 7).convert("L"), quality=85))
    add("lossy_alpha.webp", pil_webp(rgba(W, H), quality=80))
    add("lossy_alpha_bg.webp", pil_webp(rgba(W, H, 2), quality=60), BG)
    add("lossless_alpha.webp", pil_webp(rgba(W, H, 3), lossless=True))
    add("lossless_alpha_bg.webp", pil_webp(rgba(W, H, 4), lossless=True), BG)
    # An RGBA image whose alpha is all 255: PIL writes it with no alpha.
    opaque = rgba(W, H, 5)
    opaque.putalpha(255)
    add("lossless_opaque_rgba.webp", pil_webp(opaque, lossless=True), BG)
    add("icc.webp", pil_webp(rgb(W, H, 6), quality=80, icc_profile=b"\0" * 128))
    # A lossless stream with alpha whose header hint says "no alpha": PIL
    # opens it as RGB and drops the alpha, so do we.
    vp8l = bytearray(dict(chunks_of(files["lossless_alpha.webp"]))[b"VP8L"])
    vp8l[4] &= ~0x10  # alpha_is_used, bit 28 of the 32 bits after the signature
    add("lossless_alpha_hint_cleared.webp", riff(chunk(b"VP8L", bytes(vp8l))), BG)

    add("cwebp_sharp_yuv.webp", tool("cwebp", rgb(W, H, 7), "-q", "70", "-sharp_yuv"))
    add("cwebp_sns_filter.webp", tool("cwebp", rgb(W, H, 8), "-q", "50", "-sns", "100", "-f", "100",
                                      "-sharpness", "7", "-segments", "1"))
    add("cwebp_alpha_q.webp", tool("cwebp", rgba(W, H, 9), "-q", "80", "-alpha_q", "30",
                                   "-alpha_filter", "best"), BG)
    add("cwebp_alpha_exact.webp", tool("cwebp", rgba(W, H, 10), "-lossless", "-exact"), BG)
    add("cwebp_near_lossless.webp", tool("cwebp", rgb(W, H, 11), "-near_lossless", "40"))
    add("cwebp_lossless_z9.webp", tool("cwebp", rgba(W, H, 12), "-z", "9"), BG)
    add("cwebp_noalpha_flag.webp", tool("cwebp", rgba(W, H, 13), "-q", "80", "-noalpha"))
    return files


def add_exif(c: Corpus) -> dict[str, bytes]:
    files = {}
    for o in range(1, 9):
        data = pil_webp(rgb(W, H, 20 + o), quality=85, exif=tiff(o))
        files[f"exif{o}.webp"] = data
        c.ok(f"exif{o}.webp", data, reference(data))
    # The same orientations on lossless alpha and a big-endian block with
    # JPEG's "Exif\0\0" prefix (PIL strips it).
    data = pil_webp(rgba(W, H, 30), lossless=True, exif=tiff(6, order=">"))
    c.ok("exif6_alpha_be.webp", data, reference(data, BG), bg=BG)
    data = pil_webp(rgb(W, H, 31), quality=80, exif=b"Exif\0\0" + tiff(8))
    c.ok("exif8_prefixed.webp", data, reference(data))
    data = pil_webp(rgb(W, H, 32), quality=80, exif=tiff(5))
    c.ok("exif5_ignored.webp", data, reference(data, exif=False), exif=0)
    # Malformed blocks: no orientation, like PIL.
    data = pil_webp(rgb(W, H, 33), quality=80, exif=b"II*\0\xff\xff\xff\x7f")
    c.ok("exif_bad_offset.webp", data, reference(data))
    data = pil_webp(rgb(W, H, 34), quality=80, exif=tiff(9))
    c.ok("exif_orientation9.webp", data, reference(data))
    # webpmux puts the chunk into a still made by cwebp.
    with tempfile.TemporaryDirectory() as d:
        src, ex, dst = Path(d) / "in.webp", Path(d) / "exif.bin", Path(d) / "out.webp"
        src.write_bytes(tool("cwebp", rgb(W, H, 35), "-q", "75"))
        ex.write_bytes(tiff(3))
        run(["webpmux", "-set", "exif", str(ex), str(src), "-o", str(dst)])
        data = dst.read_bytes()
    files["webpmux_exif3.webp"] = data
    c.ok("webpmux_exif3.webp", data, reference(data))
    return files


def add_animations(c: Corpus) -> dict[str, bytes]:
    files = {}

    def add(name, data, bg=WHITE):
        files[name] = data
        c.ok(name, data, reference(data, bg), bg=bg)

    # PIL's own encoder crops frame 1 to its opaque part and sets no alpha
    # flag: PIL shows black around it.
    border = np.zeros((40, 50, 4), np.uint8)
    border[10:30, 12:40, :3] = picture(28, 20, 40)
    border[10:30, 12:40, 3] = 255
    first = Image.fromarray(border, "RGBA")
    later = [rgba(50, 40, 41), rgb(50, 40, 42).convert("RGBA")]
    add("anim_pil_cropped.webp", pil_webp(first, save_all=True, append_images=later, lossless=True))
    # With real transparency in frame 1 the alpha flag is set: composited.
    border[12:20, 14:30, 3] = 100
    first = Image.fromarray(border, "RGBA")
    add("anim_pil_alpha.webp", pil_webp(first, save_all=True, append_images=later, lossless=True), BG)
    add("anim_pil_lossy.webp", pil_webp(rgb(W, H, 43), save_all=True,
                                        append_images=[rgb(W, H, 44), rgb(W, H, 45)], quality=70))
    add("anim_pil_lossy_alpha.webp", pil_webp(rgba(W, H, 46), save_all=True,
                                              append_images=[rgba(W, H, 47)], quality=70), BG)

    # By hand: frame 1 smaller than the canvas at an offset, later frames
    # elsewhere; with and without the alpha flag.
    small = pil_webp(rgb(20, 14, 48), quality=80)
    small_alpha = pil_webp(rgba(20, 14, 49), lossless=True)
    other = pil_webp(rgb(30, 30, 50), lossless=True)
    add("anim_offset_rgb.webp", animation(60, 40, [(8, 6, small), (0, 0, other)], False))
    add("anim_offset_alpha.webp", animation(60, 40, [(10, 4, small_alpha), (20, 2, other)], True), BG)
    add("anim_offset_lossy_alpha_flag.webp",
        animation(61, 41, [(40, 26, small), (0, 0, other)], True), BG)
    add("anim_one_frame.webp", animation(W, H, [(0, 0, pil_webp(rgb(W, H, 51), quality=80))], False))

    # gif2webp from a GIF whose frames differ in size and transparency,
    # and img2webp mixing lossy and lossless frames.
    with tempfile.TemporaryDirectory() as d:
        g = Path(d) / "in.gif"
        frames = [rgb(48, 32, 52).quantize(64), rgb(48, 32, 53).quantize(64)]
        frames[0].save(g, save_all=True, append_images=frames[1:], transparency=0, duration=80)
        dst = Path(d) / "out.webp"
        run(["gif2webp", "-q", "70", "-mixed", str(g), "-o", str(dst)])
        add("gif2webp.webp", dst.read_bytes(), BG)
    add("img2webp.webp", tool("img2webp", [rgba(W, H, 54), rgb(W, H, 55)], "-lossy", "-q", "60"),
        BG)
    return files


def add_bad(c: Corpus, files: dict[str, bytes]):
    lossy, lossless = files["lossy.webp"], files["lossless_alpha.webp"]
    anim = files["anim_offset_alpha.webp"]
    c.err("signature_only.webp", b"RIFF\x04\0\0\0WEBP", "CORRUPT")
    c.err("riff_header_only.webp", lossy[:12], "CORRUPT")
    c.err("vp8x_only.webp", riff(vp8x(W, H, 0)), "CORRUPT")
    c.err("truncated_half.webp", lossy[: len(lossy) // 2], "CORRUPT")
    c.err("truncated_last_byte.webp", lossy[:-1], "CORRUPT")
    c.err("anim_truncated.webp", anim[:-20], "CORRUPT")
    c.err("not_webp.webp", b"RIFF\x04\0\0\0WAVEfmt ", "FORMAT")
    # Broken signatures inside the bitstreams: VP8's start code, VP8L's
    # signature byte.
    vp8_at = lossy.index(b"VP8 ") + 8
    bad = bytearray(lossy)
    bad[vp8_at + 3:vp8_at + 6] = b"\x9d\x01\x2b"
    c.err("vp8_bad_start_code.webp", bytes(bad), "CORRUPT")
    vp8l_at = lossless.index(b"VP8L") + 8
    bad = bytearray(lossless)
    bad[vp8l_at] = 0x2E
    c.err("vp8l_bad_signature.webp", bytes(bad), "CORRUPT")
    # Noise after the headers: the lossy decoder may well accept it (PIL
    # does), so it is a damaged-file case, not an error case.
    rng = np.random.default_rng(7)
    noise = bytearray(lossy)
    noise[vp8_at + 30:] = rng.integers(0, 256, len(noise) - vp8_at - 30, dtype=np.uint8).tobytes()
    c.flip("vp8_noise.webp", bytes(noise))
    # Decompression bombs: the VP8X canvas (up to 16384 x 16384) or the
    # bitstream's own size is judged before anything is allocated.
    c.err("bomb_canvas.webp", riff(vp8x(16384, 16384, 0x02), chunk(b"ANIM", bytes(6))), "LIMIT")
    vp8 = bytearray(dict(chunks_of(lossy))[b"VP8 "])
    vp8[6:10] = struct.pack("<HH", 16383, 16383)  # 14-bit sizes, no upscaling
    c.err("bomb_vp8.webp", riff(chunk(b"VP8 ", bytes(vp8))), "LIMIT")
    c.err("bomb_vp8x_still.webp", riff(vp8x(16383, 16383, 0), chunk(b"VP8 ", bytes(vp8))), "LIMIT")
    vp8l = bytearray(dict(chunks_of(lossless))[b"VP8L"])
    bits = int.from_bytes(vp8l[1:5], "little")
    bits = (bits & ~((1 << 28) - 1)) | 16383 | (16383 << 14)  # 16384 x 16384
    vp8l[1:5] = bits.to_bytes(4, "little")
    c.err("bomb_vp8l.webp", riff(chunk(b"VP8L", bytes(vp8l))), "LIMIT")
    # A frame that reaches past the canvas: the demuxer refuses it (PIL too).
    small = pil_webp(rgb(20, 14, 60), quality=80)
    c.err("frame_outside.webp", animation(30, 20, [(16, 10, small)], False), "CORRUPT")

    c.flips(files, ("lossy.webp", "lossless_alpha.webp", "lossy_alpha_bg.webp", "exif6.webp",
                    "anim_offset_alpha.webp", "anim_pil_lossy.webp", "icc.webp"), 20, 100, "webp")
    for name in ("lossy.webp", "lossless_alpha.webp", "lossy_alpha_bg.webp", "exif6.webp",
                 "anim_offset_alpha.webp", "anim_pil_lossy_alpha.webp"):
        c.trunc(f"valid/{name}")


def add_limits_and_fast(c: Corpus):
    c.limit("valid/lossy.webp", W, H)
    c.limit("valid/lossless_alpha.webp", W, H)
    c.limit("valid/exif6.webp", W, H)  # the stored size, before orientation
    c.limit("valid/anim_offset_rgb.webp", 60, 40)
    c.limit("valid/lossy_301x199.webp", 301, 199)

    def big(name, data, *sizes, bg=WHITE):
        c.ok(name, data, reference(data, bg), bg=bg)
        for s in sizes:
            c.fast(f"valid/{name}", s)

    big("big_lossy.webp", pil_webp(rgb(640, 480, 70), quality=85), 224, 100, 64, 479)
    big("big_lossless_alpha.webp", pil_webp(rgba(500, 300, 71), lossless=True), 224, 32, bg=BG)
    big("big_tall.webp", pil_webp(rgb(260, 700, 72), quality=80), 224, 96)
    big("big_exif6.webp", pil_webp(rgb(400, 300, 73), quality=85, exif=tiff(6)), 224, 50)
    big("big_lossy_alpha.webp", pil_webp(rgba(450, 451, 74), quality=80), 224, 17)
    big("big_anim.webp", pil_webp(rgb(400, 320, 75), save_all=True,
                                  append_images=[rgb(400, 320, 76)], quality=80), 224)
    big("big_anim_offset.webp", animation(420, 300, [(100, 50, pil_webp(rgb(200, 150, 77),
                                                                         quality=80))], False),
        224)
    c.fast("valid/lossy.webp", 224)  # smaller than asked for: full size


def write_seeds(out: Path):
    """Tiny valid files for the fuzzer's seed corpus (tests/fuzz/corpus/webp)."""
    out.mkdir(parents=True, exist_ok=True)
    small = {
        "lossy.webp": pil_webp(rgb(16, 12), quality=50),
        "lossless_alpha.webp": pil_webp(rgba(12, 10), lossless=True),
        "lossy_alpha.webp": pil_webp(rgba(12, 10, 2), quality=50),
        "exif6.webp": pil_webp(rgb(12, 8, 3), quality=50, exif=tiff(6)),
        "anim_offset.webp": animation(24, 16, [(4, 2, pil_webp(rgba(8, 6, 4), lossless=True)),
                                               (0, 0, pil_webp(rgb(10, 10, 5), quality=40))],
                                      True),
    }
    for name, data in small.items():
        (out / name).write_bytes(data)


def main(argv: list[str]) -> int:
    if len(argv) == 4 and argv[2] == "--seeds":
        write_seeds(Path(argv[3]))
    elif len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    c = Corpus(Path(argv[1]))
    files = add_stills(c)
    files.update(add_exif(c))
    files.update(add_animations(c))
    add_bad(c, files)
    add_limits_and_fast(c)
    c.save()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
