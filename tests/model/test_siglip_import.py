#!/usr/bin/python3
"""End to end: a random-weight Hugging Face SigLIP folder (tests/training/
test_import.py's reference model and writer), imported by cerebro-import,
encodes through libcerebro (Python binding over $CEREBRO_LIBRARY) exactly as
the torch.jit.load()ed bundle does when fed python3-sentencepiece's ids
(cerebro_train.spm.encode_rows) and PIL's squash resize: fp32 cosine >=
0.9999, max difference <= 1e-5 on normalised vectors.

usage: test_siglip_import.py WORKDIR
"""
import io
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
# The binding first: training/ holds a cerebro.py of its own.
sys.path.insert(0, str(ROOT / "bindings" / "python"))
import cerebro as cb  # noqa: E402

sys.path[1:1] = [str(ROOT / "tests" / "training"), str(ROOT / "training")]
import sentencepiece as spm  # noqa: E402
import test_import as T  # noqa: E402
from cerebro_train.spm import encode_rows, model_pieces  # noqa: E402


def main(argv):
    out = Path(argv[0])
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(T.SPM_SENTENCES), model_writer=buf,
                                   vocab_size=60, model_type="unigram", pad_id=0, eos_id=1,
                                   unk_id=2, bos_id=-1, character_coverage=1.0, num_threads=1,
                                   minloglevel=2)
    proto = buf.getvalue()
    torch.manual_seed(0)
    ref = T.randomise(T.HFSiglipRef(vocab=len(model_pieces(proto)) + 6), 6)
    config = T.run_import(T.write_hf_siglip(ref, out / "siglip", proto), out / "b.pt")
    module = torch.jit.load(str(out / "b.pt"))
    processor = spm.SentencePieceProcessor(model_proto=proto)

    texts = ["A photo of a CAT!", "", "people, walking; in the city at night " * 4,
             "two cats sleeping on a sofa", "Snow on the TREES in winter...", "  a\tdog  "]
    size = config["image"]["size"]
    rng = np.random.default_rng(1)
    paths = []
    for i, (w, h) in enumerate([(120, 80), (30, 200), (size, size), (7, 9)]):
        p = out / f"image{i}.png"
        Image.fromarray(rng.integers(0, 256, (h, w, 3), np.uint8)).save(p)
        paths.append(p)

    def squash(p: Path) -> torch.Tensor:
        im = Image.open(p).convert("RGB").resize((size, size), Image.BICUBIC)
        t = torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1).float().div(255)
        mean = torch.tensor(config["image"]["mean"]).view(3, 1, 1)
        std = torch.tensor(config["image"]["std"]).view(3, 1, 1)
        return (t - mean) / std

    with torch.no_grad():
        tokens = encode_rows(processor, texts, config["text"])
        want_text = torch.nn.functional.normalize(module.encode_text(tokens), dim=-1).numpy()
        pixels = torch.stack([squash(p) for p in paths])
        want_image = torch.nn.functional.normalize(module.encode_image(pixels), dim=-1).numpy()

    with cb.Model(str(out / "b.pt"), precision="fp32") as model:
        for text, row in zip(texts, tokens.tolist()):
            ids = model.tokenize(text)
            assert ids == row[:len(ids)] and all(t == config["text"]["pad_id"] for t in row[len(ids):]), \
                (text, ids, row)
        got_text = model.encode_text(texts)
        got_image = np.asarray(model.encode_images([str(p) for p in paths], mode="exact")[0])
    for name, got, want in (("text", got_text, want_text), ("image", got_image, want_image)):
        cos = float((got * want).sum(1).min())
        diff = float(np.abs(got - want).max())
        print(f"{name}: {len(got)} rows, worst cosine {cos:.7f}, max diff {diff:.2g}")
        assert cos >= 0.9999 and diff <= 1e-5, name
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
