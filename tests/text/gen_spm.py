#!/usr/bin/python3
"""SentencePiece test data for the C tokenizer, from Debian's python3-sentencepiece.

  gen_spm.py --out DIR

Trains two small SentencePiece models on a generated text (DIR/unigram.model,
a unigram model without byte fallback, and DIR/bpe.model, a BPE model with
byte fallback; about 800 pieces each) and writes, for each model and each set
of framing rules, DIR/spm_<model>_<rules>.txt: a "rules <sot> <eot>
<lowercase> <canonicalize> <context_length>" line, a "count N" line, then per
case "T <hex of the UTF-8 text>" and "I <n> <ids...>". The ids are what the
library promises (docs/bundle-format.md): the text lower-cased
(str.lower()) and canonicalised (Hugging Face SiglipTokenizer's
canonicalize_text) when the rules say so, sp.encode(text, out_type=int),
cut to context_length minus the special tokens, then [sot] + ids + [eot].
DIR/index.txt lists "<model file> <cases file>" pairs; rules "open" are
those cerebro_tokenizer_open() gives a bare .model file.
The texts are tests/text/gen_corpus.py's corpus (ASCII, accents, CJK, emoji,
whitespace runs, control characters, the empty string, 10,000-character
texts) plus SentencePiece's own meta symbol U+2581.
"""
import argparse
import os
import random
import re
import string
import sys
from typing import List, NamedTuple

import sentencepiece as spm

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_corpus import ACCENTED, EMOJI, ENGLISH, FOREIGN, PUNCT, build_corpus  # noqa: E402

_PUNCT_TABLE = str.maketrans("", "", string.punctuation)


class Rules(NamedTuple):
    name: str
    sot: int
    eot: int
    lowercase: bool
    canonicalize: bool
    context_length: int


def canonicalize(text: str) -> str:
    """Hugging Face SiglipTokenizer.canonicalize_text (no kept string)."""
    text = text.translate(_PUNCT_TABLE)
    text = re.sub(r"\s+", " ", text)
    return text.strip()


def reference(sp: spm.SentencePieceProcessor, text: str, r: Rules) -> List[int]:
    if r.lowercase:
        text = text.lower()
    if r.canonicalize:
        text = canonicalize(text)
    ids = sp.encode(text, out_type=int)
    frame = (r.sot >= 0) + (r.eot >= 0)
    if r.context_length:
        ids = ids[:max(r.context_length - frame, 0)]
    out = ([r.sot] if r.sot >= 0 else []) + ids + ([r.eot] if r.eot >= 0 else [])
    if r.context_length and len(out) > r.context_length:
        out = out[:r.context_length]
        out[-1] = r.eot
    return out


def training_text(path: str, seed: int = 16) -> None:
    rng = random.Random(seed)
    # Made-up words from syllables give the trainer enough distinct text
    # for its vocabulary.
    syllables = [c + v for c in "bcdfghklmnprstvwz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]
    made_up = ["".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))) for _ in range(3000)]
    pools = [ENGLISH] * 4 + [made_up] * 4 + [FOREIGN, EMOJI, ACCENTED, PUNCT]
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(6000):
            words = [rng.choice(rng.choice(pools)) for _ in range(rng.randint(3, 20))]
            if rng.random() < 0.3:
                words = [w.capitalize() for w in words]
            f.write(" ".join(words) + "\n")


def train(out: str, model_type: str) -> str:
    text = os.path.join(out, "train.txt")
    if not os.path.exists(text):
        training_text(text)
    prefix = os.path.join(out, model_type)
    spm.SentencePieceTrainer.train(
        input=text, model_prefix=prefix, vocab_size=800, model_type=model_type,
        character_coverage=0.9995, byte_fallback=model_type == "bpe", num_threads=1,
        seed_sentencepiece_size=100000, minloglevel=2)
    return prefix + ".model"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    cases = build_corpus() + ["\u2581", "a\u2581b", "\u2581\u2581 x", " \u2581"]
    index = []
    for model_type in ("unigram", "bpe"):
        model = train(args.out, model_type)
        sp = spm.SentencePieceProcessor(model_file=model)
        eos, bos = sp.eos_id(), sp.bos_id()
        rules = [Rules("open", -1, eos, False, False, 0),
                 Rules("siglip", -1, eos, True, True, 16),
                 Rules("bos", bos, eos, True, False, 64),
                 Rules("canon", -1, eos, False, True, 8),
                 Rules("short", bos, eos, False, False, 2)]
        for r in rules:
            name = f"spm_{model_type}_{r.name}.txt"
            path = os.path.join(args.out, name)
            with open(path + ".tmp", "w", encoding="ascii") as f:
                f.write(f"rules {r.sot} {r.eot} {int(r.lowercase)} {int(r.canonicalize)} "
                        f"{r.context_length}\n")
                f.write(f"count {len(cases)}\n")
                for text in cases:
                    ids = reference(sp, text, r)
                    f.write("T " + text.encode("utf-8").hex() + "\n")
                    f.write(f"I {len(ids)} " + " ".join(map(str, ids)) + "\n")
            os.replace(path + ".tmp", path)
            index.append(f"{os.path.basename(model)} {name} {r.name}")
    with open(os.path.join(args.out, "index.txt"), "w", encoding="ascii") as f:
        f.write("\n".join(index) + "\n")
    print(f"{args.out}: {len(index)} files of {len(cases)} cases")
    return 0


if __name__ == "__main__":
    sys.exit(main())
