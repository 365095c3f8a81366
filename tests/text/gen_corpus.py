#!/usr/bin/python3
"""Test data for the C tokenizer, generated with the Python reference.

  gen_corpus.py --out DIR          writes DIR/corpus.txt (texts and reference ids),
                                   DIR/corpus_vocab1000.txt (the same with 1,000 tokens),
                                   and DIR/unicode.txt (Python's view of every code point)

corpus.txt: a "count N" line, then per case "T <hex of the UTF-8 text>" and
"I <n> <ids...>". unicode.txt: run-length ranges over all code points (surrogates
excluded) of what the reference's Python sees; see write_unicode().
"""

import argparse
import html.entities
import os
import random
import sys
import time
import unicodedata
from typing import Callable, List, Sequence, Tuple

import regex

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "training"))
from cerebro_train.paths import clip_merges  # noqa: E402
from cerebro_train.tokenizer import Tokenizer, pieces  # noqa: E402

_RE_SPACE = regex.compile(r"\s")
DEFAULT_MERGES = str(clip_merges())

ENGLISH = ("a photo of a cat dog snow leopard on rocks the quick brown fox jumps over lazy "
           "elephant giraffe flamingo penguin tiger lion owl frog zebra mountain river sunset "
           "beach city night street car bicycle person people child woman man running sitting "
           "standing red green blue yellow black white small large old young beautiful tree "
           "flowers grass sky clouds water ocean wave bird flying eating walking playing with "
           "in at by for from and or not is are was were be been being have has had do does "
           "did will would shall should can could may might must photograph picture image close-up "
           "portrait landscape macro wildlife savanna jungle forest desert arctic antelope "
           "hippopotamus rhinoceros crocodile kangaroo koala panda chimpanzee gorilla orangutan "
           "supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopic").split()
FOREIGN = [
    "猫", "一只猫的照片", "雪豹在岩石上", "東京タワー", "ひらがな", "カタカナ", "한국어", "고양이 사진",
    "قطة", "صورة قطة على الصخور", "بِسْمِ", "नमस्ते", "बिल्ली की तस्वीर", "हिन्दी",
    "кошка", "Фотография кошки", "ПРИВЕТ", "ёлка", "Ελληνικά", "ΟΔΥΣΣΕΥΣ", "ΣΊΣΥΦΟΣ", "ΣΑΣ Σ",
    "λόγος", "İstanbul", "İİİ", "ISTANBUL", "ıi", "Straße", "STRASSE", "ß", "ẞ", "Ǆ ǅ ǆ",
    "עברית", "ภาษาไทย", "ქართული", "Հայերեն", "አማርኛ", "ᚠᚢᚦ", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "ℌ𝔢𝔩𝔩𝔬",
    "Ⅻ ⅻ", "①②③", "½ ¾", "٣٤٥", "१२३", "〇一二三", "ⓐⓑⓒ ⒶⒷⒸ", "ǰ", "ﬁ ﬂ ﬀ", "Å Å",
]
EMOJI = ["😀", "🐈", "🐆", "👍", "👍🏽", "👩‍👩‍👧‍👦", "👨🏿‍🚀", "🏳️‍🌈", "🇯🇵", "🇺🇸", "❤️",
         "🧑🏻‍🤝‍🧑🏾", "☃", "✨", "🦁🐯🐻", "#️⃣", "🤷‍♀️", "\U0001F9D1\u200D\U0001F4BB"]
ACCENTED = ["café", "naïve", "résumé", "Zoë", "Ångström", "piñata", "crème brûlée", "façade",
            "São Paulo", "Dvořák", "Łódź", "Ærøskøbing", "Ἀθῆναι", "ᾼ ᾳ ᾷ", "Tiếng Việt"]
PUNCT = ["!", "?", "...", "!!!", "?!", "--", "—", "–", "(", ")", "[", "]", "{", "}", ",", ".",
         ";", ":", "\"", "'", "`", "~", "@", "#", "$", "%", "^", "&", "*", "+", "=", "<", ">",
         "/", "\\", "|", "_", "«", "»", "“", "”", "‘", "’", "¿", "¡", "•", "…", "©", "®", "™"]
CONTRACTIONS = ["it's", "IT'S", "It'S", "don't", "DON'T", "we're", "WE'RE", "they've", "I'm",
                "I'M", "you'll", "YOU'LL", "he'd", "HE'D", "'s", "'S", "'t", "'re", "'ve", "'m",
                "'ll", "'d", "''s", "rock'n'roll", "o'clock", "it’s", "dog'ſ", "'ſ", "'Ll"]
SPACES = [" ", "  ", "\t", "\n", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "\x85",
          "\xa0", "\u1680", "\u2000", "\u2007", "\u200a", "\u2028", "\u2029", "\u202f", "\u205f",
          "\u3000", "\u200b", "\ufeff", " \x1c "]
SPECIALS = ["<|startoftext|>", "<|endoftext|>", "<|STARTOFTEXT|>", "<|EndOfText|>",
            "<|ſtartoftext|>", "<|endoftext|", "<|endoftext|>>", "x<|endoftext|>y", "<<|endoftext|>"]
NUMERIC_REFS = ["&#65;", "&#x41;", "&#X41", "&#0;", "&#13;", "&#128;", "&#x80;", "&#150;",
                "&#x9F;", "&#127;", "&#1;", "&#11;", "&#xD800;", "&#xDFFF;", "&#x110000;",
                "&#99999999999999999999;", "&#xFDD0;", "&#xFFFE;", "&#x10FFFF;", "&#x1F600;",
                "&#8364;", "&#38;", "&#x26;amp;", "&#;", "&#x;", "&#xG;", "&#", "&#x", "&#0065",
                "&#x000041;", "&#12345678901234567890123456789012345;"]


def entity_samples(rng: random.Random) -> List[str]:
    names = sorted(html.entities.html5)
    out = ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&nbsp;", "&amp;amp;", "&amp;lt;",
           "&amp;amp;amp;", "&AMP;", "&amp", "&ampx", "&amp;x", "&lt3", "&notin;", "&notit;",
           "&not", "&noti", "&copy", "&copyright", "&hellip", "&hellip;", "&Hat;", "&&amp;",
           "& amp;", "&;", "&", "&&", "&#38;lt;", "&amp;#60;", "&unknown;", "&ThisIsAVeryLongEntityNameThatGoesOnAndOn;",
           "&aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa;", "&ampamp;", "&amp\u00e9", "&amp\rx",
           "&lt\u0301", "&nbsp&nbsp", "&NotNestedGreaterGreater;", "&nGt;", "&acE;", "&fjlig;",
           "&ThickSpace;", "&NewLine;", "&Tab;", "&sigma;&Sigma;", "&#931;&#931;"]
    out += ["&" + name for name in rng.sample(names, 400)]
    out += ["&amp;" + name for name in rng.sample(names, 60)]
    return out


def random_codepoint(rng: random.Random) -> str:
    """Any scalar value Python's Unicode data and regex's agree is (un)assigned."""
    while True:
        plane = rng.random()
        if plane < 0.5:
            cp = rng.randrange(0x80, 0x3400)
        elif plane < 0.8:
            cp = rng.randrange(0x3400, 0x10000)
        else:
            cp = rng.randrange(0x10000, 0x110000)
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        # Characters new in Unicode 15 (regex and utf8proc know them, Python 3.11's
        # unicodedata does not) are left out: their case properties disagree.
        if unicodedata.category(ch) == "Cn" and not regex.match(r"\p{Cn}", ch):
            continue
        return ch


def build_corpus(seed: int = 1234) -> List[str]:
    rng = random.Random(seed)
    fixed = [
        "a photo of a cat", "A photo of a CAT.", "", " ", "\t\n ", "\x1c\x1d\x1e\x1f",
        "\u3000\u2028", "a\x1cb", "a \x1c b", " \x1ca", "a\x1c", "a\u2028\u2029b", "\x85x\x85",
        "Hello, World!", "hello world", "HELLO WORLD", "snow leopard", "IT'S", "it's", "It's 5 o'clock",
        "1234567890", "3.14159", "1,000,000", "$100", "2023-01-01", "12:30pm", "100%",
        "!!!???...", "?!?!?!", "...", "----", "=====>", "<<<>>>", "(((())))", ":-)", ";-P", "<3",
        "\u0130stanbul", "\u0130", "i\u0307", "\u03a3", "\u03a3\u03a3", "\u039f\u0394\u03a5\u03a3\u03a3\u0395\u03a5\u03a3",
        "\u03a3a", "a\u03a3", "a\u03a3b", "a\u03a3.", "a.\u03a3", "a'\u03a3", "a\u00ad\u03a3", "\u00aa\u03a3",
        "\u02b0\u03a3", "A\u0345\u03a3", "\u0345", "a\u0345b", "\u1fbc", "\u1fb3", "\u03b1\u0345",
        "caf\u00e9", "cafe\u0301", "\u00c5", "A\u030a", "\u212b", "e\u0301\u0301\u0301",
        "\u017f", "\u212a", "\u1e9e", "\ufb01", "\u0149", "\u01f0",
        "\u200d", "\u200b\u200b", "a\u200bb", "\ufeffbom", "\x00", "a\x00b", "\x7f", "\x01\x02",
        "x" * 77, "word " * 100, "a" * 3000, "ab" * 1500, "!" * 3000, "9" * 500, "\u00e9" * 1000,
        "\U0001F600" * 300, "\u732b" * 500, "aa" + "\u0345" * 10 + "bb",
    ]
    cases = fixed + FOREIGN + EMOJI + ACCENTED + CONTRACTIONS + SPECIALS + NUMERIC_REFS
    cases += [unicodedata.normalize("NFD", s) for s in ACCENTED + FOREIGN]
    cases += ["x" + s + "y" for s in SPACES] + [s + "word" + s for s in SPACES]
    cases += entity_samples(rng)

    pools: List[Tuple[Sequence[str], float]] = [
        (ENGLISH, 6), ([w.upper() for w in ENGLISH[:40]], 1), ([w.title() for w in ENGLISH[:40]], 1),
        (FOREIGN, 2), (EMOJI, 1), (ACCENTED, 1), (PUNCT, 2), (CONTRACTIONS, 1),
        (["0", "1", "42", "2024", "3.5", "1/2", "10,000"], 1), (SPECIALS, 0.3),
        (NUMERIC_REFS, 0.5), (entity_samples(random.Random(seed + 1)), 1),
        ([unicodedata.normalize("NFD", s) for s in ACCENTED], 0.5),
    ]
    weights = [w for _, w in pools]
    for _ in range(1500):
        parts = []
        for _ in range(rng.randint(1, 25)):
            pool = rng.choices(pools, weights)[0][0]
            parts.append(rng.choice(pool))
            r = rng.random()
            parts.append(" " if r < 0.7 else "" if r < 0.85 else rng.choice(SPACES))
        cases.append("".join(parts))
    for _ in range(400):
        cases.append("".join(random_codepoint(rng) if rng.random() < 0.7 else rng.choice(" a'&;#Σ")
                             for _ in range(rng.randint(1, 40))))
    # Long inputs (about 10,000 characters).
    for k in range(6):
        parts = []
        while sum(map(len, parts)) < 10000:
            pool = rng.choices(pools, weights)[0][0]
            parts.append(rng.choice(pool) + rng.choice([" ", " ", " ", "", "\n"]))
        cases.append("".join(parts)[:10000])
    cases.append("".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(10000)))
    cases.append("".join(random_codepoint(rng) for _ in range(10000)))
    return cases


def write_corpus(path: str, tok: Tokenizer, cases: Sequence[str]) -> None:
    with open(path + ".tmp", "w", encoding="ascii") as f:
        f.write(f"count {len(cases)}\n")
        for text in cases:
            ids = tok.encode(text)
            f.write("T " + text.encode("utf-8").hex() + "\n")
            f.write(f"I {len(ids)} " + " ".join(map(str, ids)) + "\n")
    os.replace(path + ".tmp", path)


def runs(values: Callable[[int], str]) -> List[Tuple[int, int, str]]:
    """(first, last, value) runs over all scalar values."""
    out: List[Tuple[int, int, str]] = []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        v = values(cp)
        if out and out[-1][2] == v and out[-1][1] == cp - 1:
            out[-1] = (out[-1][0], cp, v)
        elif out and out[-1][2] == v and out[-1][1] == 0xD7FF and cp == 0xE000:
            out[-1] = (out[-1][0], cp, v)
        else:
            out.append((cp, cp, v))
    return out


def piece_class(cp: int) -> str:
    """How CLIP's pattern treats the character: S(pace), X (no alternative),
    L(etter run), N(umber, alone), O(ther run)."""
    ch = chr(cp)
    found = pieces(ch)
    if not found:
        return "S" if regex.match(r"\s", ch) else "X"
    if pieces(ch + ch) == [ch, ch]:
        return "N"
    if ch in "<'":
        return "O"
    return "L" if pieces("a" + ch) == ["a" + ch] else "O"


def space_class(cp: int) -> str:
    """'P R': str.isspace() and the regex module's \\s, as 0 or 1."""
    ch = chr(cp)
    return f"{int(ch.isspace())} {int(bool(_RE_SPACE.match(ch)))}"


def sigma_class(cp: int) -> str:
    """How str.lower()'s Final_Sigma rule treats the character: I(gnorable),
    C(ased), -(neither). The two probes separate the three cases."""
    ch = chr(cp)
    alone = (ch + "\u03a3").lower()[-1] == "\u03c2"
    after_letter = ("A" + ch + "\u03a3").lower()[-1] == "\u03c2"
    if alone:
        return "C"
    return "I" if after_letter else "-"


def write_unicode(path: str) -> None:
    """Lines: 'class A B K' (piece_class), 'space A B P R' (str.isspace, regex \\s),
    'sigma A B K' (sigma_class), 'lower CP X [Y]' for every code point str.lower()
    changes, 'py_unassigned A B' where Python's Unicode data has no character (written
    before the sigma lines, which depend on it)."""
    with open(path + ".tmp", "w", encoding="ascii") as f:
        f.write(f"unicode {unicodedata.unidata_version}\n")
        for a, b, k in runs(piece_class):
            f.write(f"class {a} {b} {k}\n")
        for a, b, k in runs(space_class):
            f.write(f"space {a} {b} {k}\n")
        for a, b, k in runs(lambda cp: "1" if unicodedata.category(chr(cp)) == "Cn" else "0"):
            if k == "1":
                f.write(f"py_unassigned {a} {b}\n")
        for a, b, k in runs(sigma_class):
            f.write(f"sigma {a} {b} {k}\n")
        for cp in range(0x110000):
            if 0xD800 <= cp <= 0xDFFF:
                continue
            low = chr(cp).lower()
            if low != chr(cp):
                f.write(f"lower {cp} " + " ".join(str(ord(c)) for c in low) + "\n")
    os.replace(path + ".tmp", path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", help="directory for corpus.txt and unicode.txt")
    ap.add_argument("--merges", default=DEFAULT_MERGES)
    args = ap.parse_args()
    tok = Tokenizer.from_file(args.merges)
    cases = build_corpus()
    if not args.out:
        ap.error("--out is required")
    os.makedirs(args.out, exist_ok=True)
    start = time.time()
    write_corpus(os.path.join(args.out, "corpus.txt"), tok, cases)
    # A model bundle's smaller vocabulary: the first merges only.
    small = Tokenizer.from_file(args.merges, vocab_size=1000)
    write_corpus(os.path.join(args.out, "corpus_vocab1000.txt"), small, cases[:600])
    write_unicode(os.path.join(args.out, "unicode.txt"))
    print(f"{len(cases)} cases and the code point tables written to {args.out} "
          f"in {time.time() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
