#!/usr/bin/python3
"""The `cerebro` program end to end, on a tiny random-weight model.

Search quality means nothing with random weights, but every mechanism is
real: the walk, failed files and their reasons, the incremental summary,
JSON output, prefixes, removal, model mismatch, exit statuses, Ctrl-C.

usage: test_cli.py CEREBRO_PROGRAM MODEL_FIXTURES_DIR SAMPLE_IMAGES_DIR WORK_DIR
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

SUMMARY = re.compile(r"^indexed (\d+), updated (\d+), unchanged (\d+), removed (\d+), failed (\d+) in ",
                     re.MULTILINE)


@dataclass
class Run:
    rc: int
    out: str
    err: str


class Cerebro:
    """Runs the program in `work` with a clean environment."""

    def __init__(self, program: Path, work: Path, model: Path) -> None:
        self.program = program
        self.work = work
        self.model = model
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CEREBRO_")}

    def run(self, *args: str, env: dict[str, str] | None = None) -> Run:
        p = subprocess.run([str(self.program), *args], cwd=self.work, env={**self.env, **(env or {})},
                           capture_output=True, text=True, timeout=600)
        return Run(p.returncode, p.stdout, p.stderr)

    def ok(self, *args: str, env: dict[str, str] | None = None) -> Run:
        r = self.run(*args, env=env)
        expect(r.rc == 0, f"cerebro {' '.join(args)}: exit {r.rc}\n{r.out}{r.err}")
        return r

    def fails(self, rc: int, *args: str, env: dict[str, str] | None = None) -> Run:
        r = self.run(*args, env=env)
        expect(r.rc == rc, f"cerebro {' '.join(args)}: exit {r.rc}, expected {rc}\n{r.out}{r.err}")
        return r

    def search(self, *args: str) -> list[dict]:
        return [json.loads(line) for line in self.ok(*args, "--json").out.splitlines()]


def expect(cond: bool, message: str) -> None:
    if not cond:
        raise AssertionError(message)


def summary(r: Run) -> tuple[int, ...]:
    m = SUMMARY.search(r.out)
    expect(m is not None, f"no summary line in:\n{r.out}{r.err}")
    return tuple(int(g) for g in m.groups())


def make_collection(images: Path, work: Path) -> Path:
    """photos/: 9 images (one a copy in birds-old/, a folder whose name
    starts like birds/), a truncated JPEG, a text file named .png, and a
    text file the walk must ignore."""
    photos = work / "photos"
    (photos / "birds").mkdir(parents=True)
    (photos / "birds-old").mkdir()
    for name in ["elephant.jpg", "frog.png", "giraffe.jpg", "lion.jpg", "tiger.jpg"]:
        shutil.copy(images / name, photos / name)
    for name in ["flamingo.png", "owl.png", "penguin.png"]:
        shutil.copy(images / name, photos / "birds" / name)
    shutil.copy(images / "owl.png", photos / "birds-old" / "owl.png")
    (photos / "broken.jpg").write_bytes((images / "lion.jpg").read_bytes()[:3000])
    (photos / "fake.png").write_text("not a png\n")
    (photos / "notes.txt").write_text("not an image either\n")
    return photos


def test_help_and_usage(c: Cerebro) -> None:
    top = c.ok("--help").out
    expect(top.startswith("usage: cerebro") and "exit status" in top and "130" in top, top)
    expect(re.fullmatch(r"cerebro \d+\.\d+\.\d+ \(libcerebro \d+\.\d+\.\d+\)\n", c.ok("--version").out) is not None,
           "version line")
    commands = ["index", "search", "similar", "remove", "info", "rebuild"]
    usage_errors = [[], ["frobnicate"], ["--bogus"], ["search", "--bogus", "x"], ["search"], ["index"],
                    ["search", "-k", "0", "x"], ["search", "-k", "10001", "x"], ["search", "-k", "ten", "x"],
                    ["search", "   "], ["search", "a" * 1001], ["similar"], ["similar", "a.jpg", "--id", "1"],
                    ["index", "--batch", "0", "photos"], ["remove"], ["remove", "--id", "-3"],
                    ["info", "extra"]]
    # Each start loads libtorch (about a second): run them side by side.
    with ThreadPoolExecutor(max_workers=4) as pool:
        helps = list(pool.map(lambda cmd: (c.run(cmd, "--help"), c.run("help", cmd)), commands))
        usages = list(pool.map(lambda args: c.run(*args), usage_errors))
    for cmd, (own, via_help) in zip(commands, helps):
        expect(own.rc == 0 and own.out.startswith(f"usage: cerebro {cmd}") and "--db DIR" in own.out, own.out)
        expect(via_help.rc == 0 and via_help.out == own.out, f"help {cmd} differs from {cmd} --help")
    for args, r in zip(usage_errors, usages):
        expect(r.rc == 2 and "cerebro" in r.err and "--help" in r.err, f"{args}: exit {r.rc}: {r.err}")
    expect("1001 bytes" in usages[usage_errors.index(["search", "a" * 1001])].err, "text limit message")
    expect("from 1 to 10000" in usages[usage_errors.index(["search", "-k", "0", "x"])].err, "k limit message")


def test_nothing_to_do(c: Cerebro) -> None:
    r = c.fails(1, "--model", "missing.pt", "index", "photos")
    expect("cannot load the model" in r.err and "missing.pt" in r.err, r.err)
    r = c.fails(1, "index", "photos", env={"CEREBRO_MODEL": str(c.work / "gone.pt")})
    expect("gone.pt" in r.err, r.err)
    r = c.fails(1, "--model", str(c.model), "index", "no-such-folder")
    expect("no-such-folder: no such file or folder" in r.err, r.err)
    expect(not (c.work / ".cerebro").exists(), "a failed start must not create the index")
    r = c.fails(1, "--model", str(c.model), "search", "a lion")
    expect("no such index directory" in r.err and "cerebro index" in r.err, r.err)


def test_first_index(c: Cerebro, photos: Path) -> None:
    r = c.ok("--model", str(c.model), "index", "photos")
    expect(summary(r) == (9, 0, 0, 0, 2), f"first run: {summary(r)}")
    failed = r.out.split("failed:\n", 1)[1].splitlines()
    expect(len(failed) == 2, r.out)
    expect(failed[0].startswith("  photos/broken.jpg: ") and "truncated" in failed[0], failed[0])
    expect(failed[1].startswith("  photos/fake.png: ") and "not an image format libcerebro reads" in failed[1],
           failed[1])
    expect("notes.txt" not in r.out + r.err, "a .txt file is not an image")
    recorded = (c.work / ".cerebro" / "model-path").read_text().strip()
    expect(recorded == str(c.model.resolve()), f"model-path holds {recorded}")

    again = c.ok("index", "photos")  # the model now comes from model-path
    expect(summary(again) == (0, 0, 11, 0, 0), f"second run: {summary(again)}")


def test_info(c: Cerebro) -> None:
    info = json.loads(c.ok("info", "--json").out)
    expect((info["vectors"], info["files"], info["failed"]) == (9, 9, 2), str(info))
    expect(info["structure"] == "Flat" and info["recall_at_10"] == 1.0, str(info))
    expect(info["model_path"] == str(c.model.resolve()) and info["model"], str(info))
    expect(info["db"] == str(c.work / ".cerebro") and info["disk_bytes"] > 0, str(info))
    expect(info["memory_bytes"] >= 9 * info["dim"] * 4, str(info))
    text = c.ok("info").out
    expect(re.search(r"^vectors +9$", text, re.M) and re.search(r"^files +9 indexed, 2 failed$", text, re.M),
           text)


def test_search(c: Cerebro, photos: Path) -> None:
    hits = c.search("search", "a lion resting", "-k", "5")
    expect(len(hits) == 5, f"{len(hits)} hits")
    for h in hits:
        expect(set(h) == {"path", "score", "id", "timestamp", "relevance"} and h["timestamp"] is None, str(h))
        expect(h["relevance"] is None, f"9 items are too few for a relevance: {h}")
        expect(h["path"].startswith(str(photos) + "/") and Path(h["path"]).is_file(), h["path"])
        expect(isinstance(h["id"], int) and -1.0001 <= h["score"] <= 1.0001, str(h))
    expect([h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True), "best first")
    expect(len({h["id"] for h in hits}) == 5, "distinct items")
    everything = c.search("search", "animals", "-k", "100")
    expect(len(everything) == 9, f"{len(everything)} items in all")
    text = c.ok("search", "animals", "-k", "3").out.splitlines()
    expect(len(text) == 3 and all(re.fullmatch(r"-?\d\.\d{3}  photos/\S+  \(id \d+\)", t) for t in text),
           "\n".join(text))
    long_ok = c.search("search", "a" * 1000, "-k", "1")
    expect(len(long_ok) == 1, "1000 bytes of text are allowed")
    # Too few items for a relevance: no cutoff, whatever it is.
    expect(len(c.search("search", "animals", "-k", "4", "--min-relevance", "100")) == 4, "no cutoff under 50 items")


def write_noise_png(path: Path, seed: int, size: int = 24) -> None:
    """An RGB PNG of seeded noise (a distinct image per seed)."""
    state = seed * 2654435761 % 2**32 or 1
    rows = bytearray()
    for _ in range(size):
        rows.append(0)
        for _ in range(size * 3):
            state = state * 1103515245 + 12345 & 0x7FFFFFFF
            rows.append(state >> 16 & 0xFF)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(bytes(rows))) + chunk(b"IEND", b""))


def test_relevance(c: Cerebro, images: Path) -> None:
    """An index of 65 items: every hit has a relevance, the standard score of
    its score among the query's scores over the index less the store-size term
    (cerebro.h), and --min-relevance
    (default: the library's, named in --help) leaves out the hits below it."""
    crowd = c.work / "crowd"
    crowd.mkdir()
    for i in range(60):
        write_noise_png(crowd / f"noise{i:02d}.png", i)
    for name in ["elephant.jpg", "giraffe.jpg", "lion.jpg", "tiger.jpg", "frog.png"]:
        shutil.copy(images / name, crowd / name)
    db = ["--db", "crowd.cerebro"]
    expect(summary(c.ok(*db, "--model", str(c.model), "index", "crowd"))[0] == 65, "65 items indexed")
    m = re.search(r"--min-relevance X\n.*\(default ([0-9.]+)\)", c.ok("search", "--help").out)
    expect(m is not None, "search --help names the default minimum relevance")
    default = float(m.group(1))
    expect(default > 0, f"default {default}")
    expect(f"(default {m.group(1)})" in c.ok("similar", "--help").out, "similar --help: the same default")

    for query in ["a lion resting", "zxqv blorp"]:
        every = c.search(*db, "search", query, "-k", "100", "--min-relevance", "0")
        expect(len(every) == 65 and all(h["relevance"] is not None for h in every), f"{query}: {every[:2]}")
        scores = [h["score"] for h in every]
        mean = sum(scores) / len(scores)
        sd = (sum((s - mean) ** 2 for s in scores) / len(scores)) ** 0.5
        size = 0.38 * (math.sqrt(2 * math.log(65)) - math.sqrt(2 * math.log(2000)))
        for h in every:
            expect(abs(h["relevance"] - ((h["score"] - mean) / sd - size)) < 0.01,
                   f"{query}: {h}, mean {mean}, sd {sd}")
        rels = [h["relevance"] for h in every]
        for cut in [default, (rels[0] + rels[1]) / 2, (rels[3] + rels[4]) / 2]:
            got = c.search(*db, "search", query, "-k", "10", "--min-relevance", f"{cut:.4f}")
            want = [h["id"] for h in every if h["relevance"] >= round(cut, 4)][:10]
            expect([h["id"] for h in got] == want, f"{query} cut at {cut}: {got} but want {want}")
        by_default = c.search(*db, "search", query)
        expect([h["id"] for h in by_default] == [h["id"] for h in every if h["relevance"] >= default][:10],
               f"{query}: the default cutoff is {default}: {by_default}")
        text = c.ok(*db, "search", query, "-k", "3", "--min-relevance", "0").out.splitlines()
        expect(len(text) == 3 and all(re.fullmatch(r"-?\d\.\d{3}  crowd/\S+  \(id \d+, relevance -?\d+\.\d\)", t)
                                      for t in text), "\n".join(text))
        # Nothing left: exit 0, nothing on stdout, the best relevance on stderr.
        for args in [("--json",), ()]:
            r = c.ok(*db, "search", query, "--min-relevance", "100", *args)
            m = re.fullmatch(r"no close match \(best relevance (-?\d+\.\d) < 100; --min-relevance 0 shows all\)\n",
                             r.err)
            expect(r.out == "" and m is not None, f"{query} {args}: {r.out!r} {r.err!r}")
            expect(abs(float(m.group(1)) - rels[0]) <= 0.051, f"{m.group(1)} is not the best, {rels[0]}")

    lion = c.search(*db, "similar", "crowd/lion.jpg", "-k", "3", "--min-relevance", "0")
    expect(Path(lion[0]["path"]).name == "lion.jpg" and lion[0]["relevance"] == max(h["relevance"] for h in lion),
           str(lion))
    r = c.ok(*db, "similar", "--id", str(lion[0]["id"]), "--min-relevance", "100")
    expect(r.out == "" and r.err.startswith("no close match (best relevance "), r.err)
    r = c.ok(*db, "search", "x", "--min-relevance", "100", "--prefix", "nowhere/")
    expect(r.out == "" and r.err == "no results under that prefix\n", r.err)
    for bad in ["-1", "101", "nan", "inf", "four", "", " 4", "0x10"]:
        r = c.fails(2, *db, "search", "x", "--min-relevance", bad)
        expect("--min-relevance must be a number from 0 to 100" in r.err and f"'{bad}'" in r.err, f"{bad!r}: {r.err}")


def test_prefix(c: Cerebro, photos: Path) -> None:
    for prefix in ["photos/birds", "photos/birds/", str(photos / "birds")]:
        hits = c.search("search", "a bird", "--prefix", prefix)
        paths = sorted(Path(h["path"]).name for h in hits)
        expect(paths == ["flamingo.png", "owl.png", "penguin.png"], f"{prefix}: {paths}")
        expect(all(h["path"].startswith(str(photos / "birds") + "/") for h in hits), prefix)
    # Not a folder: a plain path prefix, birds/ and birds-old/ alike.
    expect(len(c.search("search", "a bird", "--prefix", "photos/bir")) == 4, "string prefix")
    expect(c.search("search", "x", "--prefix", "elsewhere/") == [], "no match is no result")


def test_similar(c: Cerebro, photos: Path) -> None:
    hits = c.search("similar", "photos/tiger.jpg", "-k", "3")
    expect(len(hits) == 3 and hits[0]["path"] == str(photos / "tiger.jpg"), str(hits))
    expect(hits[0]["score"] > 0.999, f"an image is its own nearest neighbour: {hits[0]}")
    tiger = hits[0]["id"]
    by_id = c.search("similar", "--id", str(tiger), "-k", "20")
    expect(len(by_id) == 8 and tiger not in {h["id"] for h in by_id}, "--id leaves the item out")
    owls = c.search("similar", "photos/birds/owl.png", "-k", "2")
    expect(sorted(h["path"] for h in owls) == [str(photos / "birds-old/owl.png"), str(photos / "birds/owl.png")]
           and min(h["score"] for h in owls) > 0.999, f"two copies of the owl: {owls}")
    # Under a prefix that excludes the item: exactly k, the extra hit asked
    # for to make room for the item dropped.
    for k in [1, 2, 3, 5]:
        birds = c.search("similar", "--id", str(tiger), "-k", str(k), "--prefix", "photos/birds/")
        expect(len(birds) == min(k, 3) and all(h["path"].startswith(str(photos / "birds") + "/") for h in birds),
               f"similar --id -k {k} --prefix photos/birds/: {birds}")
    r = c.fails(1, "similar", "photos/fake.png")
    expect("not an image format libcerebro reads" in r.err, r.err)
    r = c.fails(1, "similar", "--id", "999999")
    expect("999999" in r.err and "not in the index" in r.err, r.err)


def test_remove_and_update(c: Cerebro, photos: Path) -> None:
    r = c.ok("remove", "photos/lion.jpg")
    expect(r.out == "removed photos/lion.jpg\n", r.out)
    paths = {h["path"] for h in c.search("search", "a lion", "-k", "100")}
    expect(len(paths) == 8 and str(photos / "lion.jpg") not in paths, str(paths))
    r = c.fails(1, "remove", "photos/lion.jpg")
    expect("not in the index" in r.err, r.err)
    r = c.fails(1, "remove", "photos/birds")
    expect("is a folder" in r.err, r.err)
    tiger = c.search("similar", "photos/tiger.jpg", "-k", "1")[0]["id"]
    expect(c.ok("remove", "--id", str(tiger)).out == f"removed item {tiger}\n", "remove --id")
    c.fails(1, "remove", "--id", str(tiger))
    expect(json.loads(c.ok("info", "--json").out)["vectors"] == 7, "two items removed")
    # Several at once, in one step: what is there goes, the rest is named.
    r = c.fails(1, "remove", "photos/birds/owl.png", "photos/lion.jpg", "photos/birds",
                "photos/birds-old/owl.png", "--id", str(tiger))
    expect(r.out == "removed photos/birds/owl.png\nremoved photos/birds-old/owl.png\n", r.out)
    for message in ("photos/lion.jpg: not in the index", "photos/birds is a folder",
                    f"item {tiger}: not in the index"):
        expect(message in r.err, r.err)
    expect(json.loads(c.ok("info", "--json").out)["vectors"] == 5, "two more removed")

    # Still on disk, so indexed again; a changed file updated, a deleted one dropped.
    shutil.copy(photos / "giraffe.jpg", photos / "elephant.jpg")
    (photos / "frog.png").unlink()
    r = c.ok("index", "photos")
    expect(summary(r) == (4, 1, 5, 1, 0), f"incremental run: {summary(r)}")
    names = {Path(h["path"]).name for h in c.search("search", "x", "-k", "100")}
    expect(names == {"elephant.jpg", "giraffe.jpg", "lion.jpg", "tiger.jpg", "flamingo.png", "owl.png",
                     "penguin.png"}, str(names))


def test_exclude(c: Cerebro, photos: Path) -> None:
    """--exclude leaves matching folders and files out and drops what an earlier run
    indexed there; a run without it brings them back."""
    r = c.ok("index", "photos", "--exclude", "birds-old", "--exclude", "birds/p*.png")
    expect(summary(r)[0] == 0 and summary(r)[3] == 2, f"excluding run: {summary(r)}")
    paths = {h["path"] for h in c.search("search", "x", "-k", "100")}
    expect(str(photos / "birds-old/owl.png") not in paths and str(photos / "birds/penguin.png")
           not in paths and str(photos / "birds/owl.png") in paths, str(paths))
    r = c.ok("index", "photos")
    expect(summary(r)[0] == 2 and summary(r)[3] == 0, f"run without --exclude: {summary(r)}")
    r = c.fails(2, "index", "photos", "--exclude", "")
    expect("--exclude takes a pattern" in r.err, r.err)


def padded_jpeg(data: bytes, size: int) -> bytes:
    """The JPEG with comment segments after SOI that make it `size` bytes."""
    pad, segments = size - len(data), b""
    expect(pad >= 4, f"cannot pad {len(data)} bytes to {size}")
    while pad:
        n = min(pad, 65537)  # a segment is 4 to 65537 bytes
        n -= 4 if 0 < pad - n < 4 else 0
        segments += b"\xff\xfe" + (n - 2).to_bytes(2, "big") + b"p" * (n - 4)
        pad -= n
    return data[:2] + segments + data[2:]


def test_same_size_edits(c: Cerebro, images: Path) -> None:
    """A photo edited in place to the same byte size is re-indexed, whether
    its mtime moved to a later second or only within the same second."""
    edits = c.work / "edits"
    edits.mkdir()
    photo = edits / "edited.jpg"
    a, b = (images / "lion.jpg").read_bytes(), (images / "tiger.jpg").read_bytes()
    size = max(len(a), len(b)) + 16
    db = ["--db", "edits.cerebro"]
    photo.write_bytes(padded_jpeg(a, size))
    os.utime(photo, ns=(1_600_000_000_100_000_000, 1_600_000_000_100_000_000))
    expect(summary(c.ok(*db, "index", "edits")) == (1, 0, 0, 0, 0), "first run")
    expect(summary(c.ok(*db, "index", "edits")) == (0, 0, 1, 0, 0), "untouched: unchanged")
    for picture, mtime_ns in [(b, 1_600_000_007_100_000_000), (a, 1_600_000_007_900_000_000)]:
        photo.write_bytes(padded_jpeg(picture, size))
        os.utime(photo, ns=(mtime_ns, mtime_ns))
        expect(photo.stat().st_size == size and photo.stat().st_mtime_ns == mtime_ns, "file system keeps ns")
        r = c.ok(*db, "index", "edits")
        expect(summary(r) == (0, 1, 0, 0, 0), f"rewritten, same size, mtime {mtime_ns} ns: {summary(r)}")
        # The stored vector is the new picture's: it finds itself.
        hit = c.search(*db, "similar", str(photo), "-k", "1")[0]
        expect(hit["score"] > 0.999, f"the updated vector is not the new picture's: {hit}")


def test_all_failed(c: Cerebro, images: Path) -> None:
    bad = c.work / "bad"
    bad.mkdir()
    (bad / "broken.jpg").write_bytes((images / "tiger.jpg").read_bytes()[:2000])
    r = c.fails(1, "index", "bad")
    expect(summary(r) == (0, 0, 0, 0, 1) and "bad/broken.jpg: " in r.out, r.out)
    expect("no file could be indexed" in r.err, r.err)


def test_every_format(c: Cerebro, images: Path) -> None:
    """A folder with one file of each format (tests/format_samples.py), a
    WebP named .jpg (read by its bytes) and text named .heic (reported)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from format_samples import FORMATS, write_sample

    folder, refs = c.work / "formats", c.work / "formats-ref"
    sources = ["frog.png", "owl.png", "giraffe.jpg", "lion.jpg", "penguin.png", "flamingo.png", "tiger.jpg"]
    files = {}
    for fmt, source in zip(FORMATS, sources):
        files[fmt] = write_sample(fmt, images / source, folder, Path(source).stem, refs)[0]
    (folder / "misnamed.jpg").write_bytes(files["webp"].read_bytes())
    (folder / "fake.heic").write_text("I am text, not a HEIC\n")
    db = ["--db", "formats.cerebro"]
    r = c.ok(*db, "--model", str(c.model), "index", "formats")
    expect(summary(r) == (len(FORMATS) + 1, 0, 0, 0, 1), f"every format: {summary(r)}\n{r.out}")
    failed = r.out.split("failed:\n", 1)[1].splitlines()
    expect(len(failed) == 1 and failed[0].startswith("  formats/fake.heic: ")
           and "not an image format libcerebro reads" in failed[0], r.out)
    names = {Path(h["path"]).name for h in c.search(*db, "search", "animals", "-k", "100")}
    expect(names == {f.name for f in files.values()} | {"misnamed.jpg"}, str(names))
    for fmt, f in files.items():
        hits = c.search(*db, "similar", str(f), "-k", "2")
        expect(f.name in {Path(h["path"]).name for h in hits} and hits[0]["score"] > 0.999, f"{fmt}: {hits}")
    hits = c.search(*db, "similar", "formats/misnamed.jpg", "-k", "2")
    expect({Path(h["path"]).name for h in hits} == {"misnamed.jpg", files["webp"].name}
           and min(h["score"] for h in hits) > 0.999, f"the WebP named .jpg is the WebP: {hits}")
    r = c.fails(1, *db, "similar", "formats/fake.heic")
    expect("fake.heic" in r.err and "not an image format libcerebro reads" in r.err, r.err)


def test_other_model(c: Cerebro, other: Path) -> None:
    for args in [["search", "x"], ["index", "photos"], ["info"]]:
        r = c.fails(1, "--model", str(other), *args)
        expect("was indexed with model" in r.err, r.err)
    recorded = (c.work / ".cerebro" / "model-path").read_text().strip()
    expect(recorded == str(c.model.resolve()), "a refused model is not recorded")
    # A new index may use it; CEREBRO_DB names the index.
    r = c.ok("--model", str(other), "index", "photos/birds", env={"CEREBRO_DB": "other.cerebro"})
    expect(summary(r) == (3, 0, 0, 0, 0), r.out)
    expect(json.loads(c.ok("info", "--json", "--db", "other.cerebro").out)["vectors"] == 3, "other index")


def test_rebuild(c: Cerebro) -> None:
    out = c.ok("rebuild", "--factory", "HNSW16").out
    expect(re.search(r"^structure +HNSW16", out, re.M) is not None, out)
    expect(len(c.search("search", "x", "-k", "3")) == 3, "search after rebuild")
    r = c.fails(1, "rebuild", "--factory", "NoSuchStructure")
    expect("NoSuchStructure" in r.err, r.err)
    out = c.ok("rebuild").out
    expect(re.search(r"^structure +Flat$", out, re.M) is not None, out)


def catches_sigint(proc: subprocess.Popen) -> bool:
    """Whether the process has its Ctrl-C handler installed (SigCgt in
    /proc/PID/status: the caught signals, bit SIGINT - 1)."""
    try:
        status = Path(f"/proc/{proc.pid}/status").read_text()
    except FileNotFoundError:
        return False
    m = re.search(r"^SigCgt:\s*([0-9a-f]+)$", status, re.M)
    return m is not None and (int(m.group(1), 16) >> (signal.SIGINT - 1)) & 1 == 1


def interrupt_when_ready(proc: subprocess.Popen) -> str:
    """Ctrl-C once `cerebro index` catches it (the handler goes in after the
    index is open; a Ctrl-C before would just kill it), then wait until it
    says it is stopping. Returns the stderr read so far: what follows must be
    read through the same file object (its buffer may already hold it)."""
    assert proc.stderr is not None
    deadline = time.monotonic() + 300
    while not catches_sigint(proc):
        expect(proc.poll() is None, f"exited with {proc.returncode} before catching Ctrl-C")
        expect(time.monotonic() < deadline, "the Ctrl-C handler never went in")
        time.sleep(0.002)
    proc.send_signal(signal.SIGINT)
    seen = ""
    while "stopping after the current batch" not in seen:
        line = proc.stderr.readline()
        expect(line != "", f"no acknowledgement of the first Ctrl-C: {seen}")
        seen += line
    return seen


MANY = 1500


def test_interrupt(c: Cerebro, images: Path) -> None:
    """Ctrl-C once: committed batches kept, a resumable stop. Twice: out at once.
    Enough files that the run outlasts a commit interval (indexing commits
    every 256 files or every second, and stops at a commit), so the Ctrl-C
    lands in the middle of it."""
    many = c.work / "many"
    many.mkdir()
    sources = sorted(p for p in images.iterdir() if p.suffix in {".jpg", ".png"})
    for i in range(MANY):
        shutil.copy(sources[i % len(sources)], many / f"{i:03d}{sources[i % len(sources)].suffix}")
    db = c.work / "many.cerebro"

    def start(batch: int, stdout: int) -> subprocess.Popen:
        return subprocess.Popen([str(c.program), "--db", str(db), "--model", str(c.model), "index", "--batch",
                                 str(batch), "many"], cwd=c.work, env=c.env, stdout=stdout,
                                stderr=subprocess.PIPE, text=True)

    proc = start(1, subprocess.PIPE)
    err = interrupt_when_ready(proc)
    assert proc.stdout is not None and proc.stderr is not None
    err += proc.stderr.read()  # not communicate(): it would skip what readline() buffered
    out = proc.stdout.read()
    proc.wait(timeout=300)
    expect(proc.returncode == 130, f"exit {proc.returncode}\n{out}{err}")
    m = re.search(r"interrupted: (\d+) files indexed, run again to resume", err)
    expect(m is not None, err)
    done = int(m.group(1))
    expect(done < MANY and summary(Run(0, out, err))[0] == done, f"{done}\n{out}")
    vectors = json.loads(c.ok("info", "--json", "--db", str(db)).out)["vectors"]
    expect(vectors == done, f"{vectors} vectors kept, {done} reported")
    r = c.ok("--db", str(db), "index", "many")
    expect(summary(r) == (MANY - done, 0, done, 0, 0), f"resumed: {summary(r)}")

    # Twice: the second Ctrl-C kills it. Its stdout is a pipe filled to the
    # brim beforehand, so it cannot print its summary and exit before the
    # second Ctrl-C comes, however quickly it finishes its work.
    shutil.rmtree(db)
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    filler = 0
    for chunk in (b"x" * 4096, b"x"):
        try:
            while True:
                filler += os.write(write_end, chunk)
        except BlockingIOError:
            pass
    os.set_blocking(write_end, True)
    proc = start(120, write_end)
    os.close(write_end)
    try:
        interrupt_when_ready(proc)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
        rest = b""
        while chunk := os.read(read_end, 65536):
            rest += chunk
        os.close(read_end)
        err = proc.stderr.read() if proc.stderr else ""
    expect(proc.returncode == -signal.SIGINT, f"second Ctrl-C: exit {proc.returncode}\n{rest[filler:]!r}{err}")
    expect(rest[filler:] == b"", f"printed after the second Ctrl-C: {rest[filler:]!r}")
    r = c.ok("--db", str(db), "index", "many")  # the store survived being killed
    expect(summary(r)[0] + summary(r)[2] == MANY and summary(r)[4] == 0, r.out)


def main(argv: list[str]) -> int:
    program, fixtures, images, work = (Path(a).resolve() for a in argv)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    c = Cerebro(program, work, fixtures / "tiny.pt")
    photos = make_collection(images, work)
    steps = [
        ("help and usage errors", lambda: test_help_and_usage(c)),
        ("nothing to do", lambda: test_nothing_to_do(c)),
        ("first index", lambda: test_first_index(c, photos)),
        ("info", lambda: test_info(c)),
        ("search", lambda: test_search(c, photos)),
        ("prefix", lambda: test_prefix(c, photos)),
        ("similar", lambda: test_similar(c, photos)),
        ("relevance", lambda: test_relevance(c, images)),
        ("remove and update", lambda: test_remove_and_update(c, photos)),
        ("exclude", lambda: test_exclude(c, photos)),
        ("same-size edits", lambda: test_same_size_edits(c, images)),
        ("all files failed", lambda: test_all_failed(c, images)),
        ("every image format", lambda: test_every_format(c, images)),
        ("another model", lambda: test_other_model(c, fixtures / "tiny224.pt")),
        ("rebuild", lambda: test_rebuild(c)),
        ("Ctrl-C", lambda: test_interrupt(c, images)),
    ]
    for name, step in steps:
        t0 = time.monotonic()
        step()
        print(f"ok  {name} ({time.monotonic() - t0:.1f} s)", flush=True)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
