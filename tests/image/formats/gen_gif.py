#!/usr/bin/python3
"""GIF corpus for test_formats.c: files written by PIL and ImageMagick, and
files built here byte by byte (an LZW encoder below) for the corners of
the format. References are PIL 9.4's first frame: Image.open(f) ->
convert("RGB"), or convert("RGBA") composited on the background when the
frame has a transparent index. Tolerance 0.

Every hand-built file is also rendered by model(), which states the rules
lib/image/gif.c implements (its top comment lists them); the generator
fails if PIL and the model ever disagree, so the rules stay PIL's. Three
hand-built cases are where PIL 9.4 is inconsistent and the decoder follows
the GIF specification instead: their reference is the model's (see
DIVERGENT below).

Usage: gen_gif.py OUTDIR [--seeds DIR]

--seeds DIR also writes a few tiny valid files for the fuzzer's seed corpus.
"""
from __future__ import annotations

import io
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus  # noqa: E402
from corpus import WHITE, Corpus, alpha_ramp, picture, pil_rgb  # noqa: E402

BG = (40, 90, 200)


# ------------------------------------------------------------ GIF writing

def lzw(indices, min_code: int, defer_clear: bool = False) -> bytes:
    """GIF's variable-length LZW: a clear code first, the end code last.
    When the 4096-entry table fills, a clear code follows unless
    defer_clear, which keeps coding with the full table (allowed by the
    specification, and what some encoders do)."""
    clear, end = 1 << min_code, (1 << min_code) + 1
    out, acc, nacc = bytearray(), 0, 0

    def emit(code, size):
        nonlocal acc, nacc
        acc |= code << nacc
        nacc += size
        while nacc >= 8:
            out.append(acc & 255)
            acc >>= 8
            nacc -= 8

    size, table, nxt = min_code + 1, {}, end + 1
    emit(clear, size)
    cur = None
    for p in (int(v) for v in np.asarray(indices).ravel()):
        if cur is None:
            cur = (p,)
            continue
        k = cur + (p,)
        if k in table:
            cur = k
            continue
        emit(table[cur] if len(cur) > 1 else cur[0], size)
        if nxt < 4096:
            table[k] = nxt
            nxt += 1
            if nxt > (1 << size) and size < 12:
                size += 1
        elif not defer_clear:
            emit(clear, size)
            size, table, nxt = min_code + 1, {}, end + 1
        cur = (p,)
    if cur is not None:
        emit(table[cur] if len(cur) > 1 else cur[0], size)
    emit(end, size)
    if nacc:
        out.append(acc & 255)
    return bytes(out)


def sub_blocks(data: bytes, terminate=True) -> bytes:
    out = b"".join(bytes([len(data[i:i + 255])]) + data[i:i + 255] for i in range(0, len(data), 255))
    return out + (b"\0" if terminate else b"")


def table_flags(pal: bytes | None) -> int:
    if pal is None:
        return 0
    n = len(pal) // 3
    assert n >= 2 and n & (n - 1) == 0 and len(pal) == 3 * n
    return 0x80 | (n.bit_length() - 2)


def gce(transparent: int | None, dispose=0, length=4) -> bytes:
    body = bytes([(dispose << 2) | (transparent is not None), 10, 0, transparent or 0])
    return b"!\xf9" + bytes([length]) + (body + bytes(8))[:length] + b"\0"


INTERLACE_ORDER = ((0, 8), (4, 8), (2, 4), (1, 2))


@dataclass
class Frame:
    idx: np.ndarray                # h x w indices
    x: int = 0
    y: int = 0
    local: bytes | None = None     # local colour table
    transparent: int | None = None
    interlaced: bool = False
    min_code: int = 8
    before: bytes = b""            # raw bytes before its GCE / descriptor
    raw: bytes | None = None       # LZW data instead of the encoded idx
    defer_clear: bool = False
    size: tuple[int, int] | None = None  # declared (w, h) instead of idx's
    own_gce: bytes | None = None   # written instead of gce(transparent)


@dataclass
class Gif:
    width: int
    height: int
    frames: list[Frame]
    glob: bytes | None = None      # global colour table
    bg_index: int = 0
    version: bytes = b"GIF89a"
    tail: bytes = b";"             # what follows the last frame's data
    terminate: bool = True         # block terminator after the last data
    extra: dict = field(default_factory=dict)

    def bytes(self) -> bytes:
        out = self.version + struct.pack("<HHBBB", self.width, self.height,
                                         table_flags(self.glob), self.bg_index, 0)
        out += self.glob or b""
        for i, f in enumerate(self.frames):
            h, w = f.idx.shape
            rows = f.idx
            if f.interlaced:
                rows = f.idx[[y for s, d in INTERLACE_ORDER for y in range(s, h, d)]]
            data = f.raw if f.raw is not None else lzw(rows, f.min_code, f.defer_clear)
            own = f.own_gce if f.own_gce is not None else (
                gce(f.transparent) if f.transparent is not None else b"")
            out += f.before + own
            fw, fh = f.size or (w, h)
            out += b"," + struct.pack("<HHHHB", f.x, f.y, fw, fh,
                                      table_flags(f.local) | (0x40 if f.interlaced else 0))
            last = i == len(self.frames) - 1
            out += (f.local or b"") + bytes([f.min_code])
            out += sub_blocks(data, terminate=self.terminate or not last)
        return out + self.tail


def model(g: Gif, bg=WHITE) -> np.ndarray:
    """The decoder's rules (lib/image/gif.c) applied to the first frame."""
    f = g.frames[0]
    h, w = f.idx.shape
    width, height = max(g.width, f.x + w), max(g.height, f.y + h)
    pal = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
    table = f.local if f.local is not None else g.glob
    if table is not None:
        pal[: len(table) // 3] = np.frombuffer(table, np.uint8).reshape(-1, 3)
    t = f.transparent
    colours = pal.copy()
    if t is not None:
        colours[t] = bg
    out = np.empty((height, width, 3), np.uint8)
    out[:] = colours[t if t is not None else 0]
    out[f.y:f.y + h, f.x:f.x + w] = colours[f.idx]
    return out


def pil_reference(data: bytes, bg=WHITE) -> np.ndarray:
    im = Image.open(io.BytesIO(data))
    return pil_rgb(im, "transparency" in im.info, bg)


# ------------------------------------------------------------ pictures

def indices(w: int, h: int, colours: int, seed: int) -> np.ndarray:
    """A picture quantised to `colours` indices (smooth runs and noise, so
    LZW has both long and short strings)."""
    rgb = picture(w, h, seed).astype(np.int64)
    v = (rgb[..., 0] * 3 + rgb[..., 1] * 5 + rgb[..., 2] * 2) // 10
    return (v * colours // 256).astype(np.uint8)


def palette(n: int, seed: int) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, 3 * n, dtype=np.uint8).tobytes()


GREY_RAMP4 = bytes(v for i in range(4) for v in (i, i, i))


def hand_built() -> dict[str, tuple[Gif, tuple[int, int, int]]]:
    """name -> (file, background) for files PIL and the model must agree on."""
    pal16, pal256, pal4 = palette(16, 1), palette(256, 2), palette(4, 3)
    cases = {}

    def add(name, g, bg=WHITE):
        cases[name] = (g, bg)

    add("plain.gif", Gif(37, 23, [Frame(indices(37, 23, 16, 1), min_code=4)], glob=pal16))
    add("pal256.gif", Gif(64, 40, [Frame(indices(64, 40, 256, 2))], glob=pal256))
    add("two_colours.gif", Gif(19, 9, [Frame(indices(19, 9, 2, 3), min_code=2)],
                               glob=palette(2, 4)))
    add("code_size_8_small_table.gif", Gif(19, 9, [Frame(indices(19, 9, 4, 5))], glob=pal4))
    add("gif87a.gif", Gif(20, 12, [Frame(indices(20, 12, 16, 6), min_code=4)], glob=pal16,
                          version=b"GIF87a"))
    # The screen around a smaller frame: index 0, never the background index.
    add("frame_inside_screen.gif", Gif(50, 30, [Frame(indices(20, 10, 16, 7), x=12, y=9,
                                                      min_code=4)], glob=pal16, bg_index=5))
    add("frame_inside_transparent.gif",
        Gif(50, 30, [Frame(indices(20, 10, 16, 8), x=3, y=17, transparent=2, min_code=4)],
            glob=pal16, bg_index=5), BG)
    # Frames reaching past the screen grow the picture; a 0x0 screen too.
    add("frame_past_screen.gif", Gif(30, 20, [Frame(indices(25, 15, 16, 9), x=10, y=12,
                                                    min_code=4)], glob=pal16))
    add("frame_beyond_screen.gif", Gif(10, 8, [Frame(indices(12, 6, 16, 10), x=20, y=30,
                                                     min_code=4)], glob=pal16))
    add("screen_0x0.gif", Gif(0, 0, [Frame(indices(15, 11, 16, 11), min_code=4)], glob=pal16))
    add("screen_0x0_offset.gif", Gif(0, 0, [Frame(indices(15, 11, 16, 12), x=4, y=3,
                                                  transparent=0, min_code=4)], glob=pal16), BG)
    # Colour tables: none (grey levels), local over global, local alone,
    # indices past the table's end (grey ramp), transparency past it.
    add("no_table.gif", Gif(24, 16, [Frame(indices(24, 16, 256, 13))]))
    add("no_table_transparent.gif",
        Gif(30, 16, [Frame(indices(24, 16, 256, 14), transparent=128)]), BG)
    add("local_table.gif", Gif(24, 16, [Frame(indices(24, 16, 16, 15), local=palette(16, 5),
                                              min_code=4)], glob=pal16))
    add("local_table_only.gif", Gif(30, 20, [Frame(indices(24, 16, 16, 16), x=3, y=2,
                                                   local=palette(16, 6), min_code=4)]))
    add("indices_past_table.gif", Gif(24, 16, [Frame(indices(24, 16, 256, 17))], glob=pal4))
    add("transparent_past_table.gif",
        Gif(30, 20, [Frame(indices(24, 16, 256, 18), transparent=200)], glob=pal16), BG)
    add("grey_ramp_global.gif", Gif(24, 16, [Frame(indices(24, 16, 256, 19), transparent=3)],
                                    glob=GREY_RAMP4), BG)
    # Graphic control extensions: the last one with the flag counts.
    two = Frame(indices(24, 16, 16, 20), transparent=7, min_code=4, before=gce(5))
    add("two_gce.gif", Gif(24, 16, [two], glob=pal16), BG)
    keep = Frame(indices(24, 16, 16, 21), min_code=4, transparent=5, before=gce(5),
                 own_gce=gce(None))
    add("gce_then_gce_without_flag.gif", Gif(24, 16, [keep], glob=pal16), BG)
    long_gce = Frame(indices(24, 16, 16, 22), min_code=4, transparent=9,
                     own_gce=gce(9, length=6))
    add("gce_longer.gif", Gif(24, 16, [long_gce], glob=pal16), BG)
    # Other extensions, stray bytes between blocks (PIL skips them).
    exts = (b"!\xfe" + sub_blocks(b"a comment" * 40) + b"!\xff" +
            sub_blocks(b"NETSCAPE2.0") [:-1] + b"\x03\x01\x00\x00\x00" +
            b"!\x01" + sub_blocks(bytes(range(13)) + b"plain text"))
    add("extensions.gif", Gif(24, 16, [Frame(indices(24, 16, 16, 23), min_code=4, before=exts)],
                              glob=pal16))
    add("stray_bytes.gif", Gif(24, 16, [Frame(indices(24, 16, 16, 24), min_code=4,
                                              before=b"\x00\x07\xff")], glob=pal16))
    # Interlaced frames of every height class, one with a local table at
    # an offset and a transparent index.
    for h in (1, 2, 3, 4, 5, 7, 8, 9, 17, 33):
        add(f"interlaced_h{h}.gif", Gif(13, h, [Frame(indices(13, h, 256, 30 + h),
                                                      interlaced=True)], glob=pal256))
    add("interlaced_local_offset.gif",
        Gif(40, 40, [Frame(indices(21, 29, 16, 25), x=7, y=5, interlaced=True, transparent=1,
                           local=palette(16, 7), min_code=4)], glob=pal16), BG)
    # LZW: a table that fills up without a clear code, more data than
    # pixels, the data ending without its terminator or the trailer.
    noise = np.random.default_rng(3).integers(0, 256, (90, 120), dtype=np.uint8)
    add("lzw_deferred_clear.gif", Gif(120, 90, [Frame(noise, defer_clear=True)], glob=pal256))
    add("lzw_clear_when_full.gif", Gif(120, 90, [Frame(noise)], glob=pal256))
    idx = indices(24, 16, 16, 26)
    extra = lzw(np.concatenate([idx.ravel(), idx.ravel()[:50]]), 4)
    add("lzw_more_data.gif", Gif(24, 16, [Frame(idx, raw=extra, min_code=4)], glob=pal16))
    add("no_trailer.gif", Gif(24, 16, [Frame(indices(24, 16, 16, 27), min_code=4)], glob=pal16,
                              tail=b""))
    add("no_terminator.gif", Gif(24, 16, [Frame(indices(24, 16, 16, 28), min_code=4)],
                                 glob=pal16, tail=b"", terminate=False))
    # Animations: only frame 1 counts, whatever the later frames do.
    later = Frame(indices(70, 50, 16, 29), x=5, y=5, transparent=3, min_code=4)
    add("anim_first_small.gif", Gif(40, 30, [Frame(indices(10, 8, 16, 40), x=30, y=22, min_code=4),
                                             later], glob=pal16))
    add("anim_first_transparent.gif",
        Gif(40, 30, [Frame(indices(40, 30, 16, 41), transparent=0, min_code=4), later],
            glob=pal16), BG)
    add("one_pixel_on_big_screen.gif", Gif(300, 200, [Frame(np.array([[9]], np.uint8), x=150,
                                                            y=100, min_code=4)], glob=pal16))
    return cases


def divergent() -> dict[str, tuple[Gif, tuple[int, int, int]]]:
    """Files where PIL 9.4 is inconsistent (see lib/image/gif.c): the
    reference is the model's, i.e. the GIF specification's."""
    pal16 = palette(16, 8)
    cases = {}
    # PIL takes a local grey-ramp table for "no palette" and shows the
    # global one's colours.
    cases["local_grey_ramp_table.gif"] = (
        Gif(12, 8, [Frame(indices(12, 8, 4, 50), local=GREY_RAMP4, min_code=2)], glob=pal16), WHITE)
    # PIL cannot open these: a GCE of 2 bytes, an extension without data.
    cases["gce_too_short.gif"] = (
        Gif(12, 8, [Frame(indices(12, 8, 16, 51), min_code=4, before=gce(3, length=2))],
            glob=pal16), WHITE)
    cases["extension_without_data.gif"] = (
        Gif(12, 8, [Frame(indices(12, 8, 16, 52), min_code=4, before=b"!\x01\x00")],
            glob=pal16), WHITE)
    return cases


# ------------------------------------------------------------ PIL / ImageMagick

def pil_gif(im: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="GIF", **kw)
    return buf.getvalue()



def magick(im: Image.Image, *args: str) -> bytes:
    return corpus.magick(im, ".gif", *args)


def made_by_tools() -> dict[str, tuple[bytes, tuple[int, int, int]]]:
    rgb = Image.fromarray(picture(61, 43, 60))
    rgba = Image.fromarray(np.dstack([picture(61, 43, 61), alpha_ramp(61, 43)]), "RGBA")
    frames = [Image.fromarray(picture(61, 43, s)).quantize(32) for s in (62, 63, 64)]
    return {
        "pil_adaptive.gif": (pil_gif(rgb.quantize(256)), WHITE),
        "pil_web_palette.gif": (pil_gif(rgb), WHITE),
        "pil_grey.gif": (pil_gif(rgb.convert("L")), WHITE),
        "pil_bilevel.gif": (pil_gif(rgb.convert("1")), WHITE),
        "pil_small_not_interlaced.gif": (pil_gif(Image.fromarray(picture(20, 12, 65)).quantize(8)),
                                         WHITE),
        "pil_transparent.gif": (pil_gif(rgb.quantize(64), transparency=5), BG),
        "pil_anim.gif": (pil_gif(frames[0], save_all=True, append_images=frames[1:],
                                 duration=50, loop=0), WHITE),
        "pil_anim_transparent.gif": (pil_gif(frames[0], save_all=True, append_images=frames[1:],
                                             transparency=0, disposal=2), BG),
        "magick.gif": (magick(rgb), WHITE),
        "magick_interlaced.gif": (magick(rgb, "-interlace", "GIF"), WHITE),
        "magick_alpha.gif": (magick(rgba), BG),
        "magick_16_colours.gif": (magick(rgb, "-colors", "16", "+dither"), WHITE),
    }


# ------------------------------------------------------------ the corpus

def add_valid(c: Corpus) -> dict[str, bytes]:
    files = {}
    for name, (g, bg) in hand_built().items():
        data = g.bytes()
        ref = pil_reference(data, bg)
        mine = model(g, bg)
        if ref.shape != mine.shape or not np.array_equal(ref, mine):
            raise SystemExit(f"{name}: PIL and the model of gif.c disagree")
        files[name] = data
        c.ok(name, data, ref, bg=bg)
    for name, (g, bg) in divergent().items():
        data = g.bytes()
        files[name] = data
        c.ok(name, data, model(g, bg), bg=bg)
    for name, (data, bg) in made_by_tools().items():
        files[name] = data
        c.ok(name, data, pil_reference(data, bg), bg=bg)
    # EXIF does not exist in GIF: apply_exif changes nothing.
    c.ok("plain_no_exif.gif", files["plain.gif"], pil_reference(files["plain.gif"]), exif=0)
    return files


def add_bad(c: Corpus, files: dict[str, bytes]):
    pal16 = palette(16, 9)
    idx = indices(24, 16, 16, 70)
    plain = files["plain.gif"]
    c.err("signature_only.gif", b"GIF89a", "CORRUPT")
    c.err("screen_only.gif", plain[:13], "CORRUPT")
    c.err("global_table_cut.gif", plain[:13 + 20], "CORRUPT")
    c.err("no_image.gif", plain[:13 + 48] + b"!\xfe\x02hi\x00", "CORRUPT")
    c.err("trailer_first.gif", plain[:13 + 48] + b";", "CORRUPT")
    c.err("descriptor_cut.gif", plain[:13 + 48 + 5], "CORRUPT")
    c.err("empty_frame.gif", Gif(24, 16, [Frame(idx[:, :0], size=(0, 16), raw=lzw([], 4),
                                                 min_code=4)], glob=pal16).bytes(), "CORRUPT")
    c.err("code_size_9.gif", Gif(24, 16, [Frame(idx, min_code=9)], glob=pal16).bytes(), "CORRUPT")
    early = lzw(idx.ravel()[:100], 4)
    c.err("lzw_end_too_early.gif", Gif(24, 16, [Frame(idx, raw=early, min_code=4)],
                                       glob=pal16).bytes(), "CORRUPT")
    c.err("data_cut.gif", plain[: len(plain) - 40], "CORRUPT")
    c.err("data_cut_in_block.gif", plain[:-3], "CORRUPT")
    # Decompression bombs: the screen, or a frame that grows it, is judged
    # before anything is allocated.
    one = np.zeros((1, 1), np.uint8)
    c.err("bomb_screen_side.gif", Gif(65535, 65535, [Frame(one, min_code=2)],
                                      glob=palette(4, 1)).bytes(), "LIMIT")
    c.err("bomb_screen_pixels.gif", Gif(20000, 20000, [Frame(one, min_code=2)],
                                        glob=palette(4, 1)).bytes(), "LIMIT")
    c.err("bomb_frame.gif", Gif(10, 10, [Frame(idx, size=(30000, 30000), min_code=4)],
                                glob=pal16).bytes(), "LIMIT")
    c.err("bomb_frame_offset.gif", Gif(10, 10, [Frame(one, x=65535, y=0, size=(6000, 1),
                                                      min_code=2)], glob=pal16).bytes(), "LIMIT")
    c.err("gif90a.gif", b"GIF90a" + plain[6:], "FORMAT")

    c.flips(files, ("pil_anim_transparent.gif", "interlaced_local_offset.gif", "magick_alpha.gif",
                    "frame_inside_transparent.gif", "lzw_deferred_clear.gif", "extensions.gif"),
            20, 200, "gif")
    for name in ("plain.gif", "pil_anim.gif", "interlaced_local_offset.gif", "magick_alpha.gif",
                 "lzw_deferred_clear.gif", "extensions.gif"):
        c.trunc(f"valid/{name}")


def add_limits_and_fast(c: Corpus):
    c.limit("valid/plain.gif", 37, 23)
    c.limit("valid/frame_past_screen.gif", 35, 27)
    c.limit("valid/screen_0x0_offset.gif", 19, 14)
    c.limit("valid/pil_anim.gif", 61, 43)
    # No scaled decoding for GIF: fast mode gives the full size.
    c.fast("valid/pil_adaptive.gif", 32)
    c.fast("valid/lzw_deferred_clear.gif", 64)


def write_seeds(out: Path):
    """Tiny valid files for the fuzzer's seed corpus (tests/fuzz/corpus/gif)."""
    out.mkdir(parents=True, exist_ok=True)
    pal = palette(16, 10)
    seeds = {
        "plain.gif": Gif(12, 8, [Frame(indices(12, 8, 16, 80), min_code=4)], glob=pal),
        "interlaced_transparent.gif": Gif(16, 12, [Frame(indices(11, 10, 16, 81), x=3, y=1,
                                                         interlaced=True, transparent=2,
                                                         local=palette(16, 11), min_code=4)],
                                          glob=pal),
        "anim_extensions.gif": Gif(10, 10, [Frame(indices(6, 5, 4, 82), x=2, y=3, min_code=2,
                                                  before=b"!\xfe\x02hi\x00" + gce(1)),
                                            Frame(indices(10, 10, 16, 83), transparent=0,
                                                  min_code=4)], glob=pal),
        "no_table.gif": Gif(9, 7, [Frame(indices(9, 7, 256, 84))]),
    }
    for name, g in seeds.items():
        (out / name).write_bytes(g.bytes())


def main(argv: list[str]) -> int:
    if len(argv) == 4 and argv[2] == "--seeds":
        write_seeds(Path(argv[3]))
    elif len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    c = Corpus(Path(argv[1]))
    files = add_valid(c)
    add_bad(c, files)
    add_limits_and_fast(c)
    c.save()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
