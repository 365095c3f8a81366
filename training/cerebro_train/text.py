"""Caption tokenisation for training: the CLIP BPE over a model's vocabulary size."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import List, Sequence

import torch

from .bundle import read_merges, trim_merges
from .paths import clip_merges
from .tokenizer import Tokenizer


@lru_cache(maxsize=4)
def merges_text(vocab_size: int, merges_path: str = "") -> str:
    """The merges a vocabulary of vocab_size uses (header line + lines), as bundles store."""
    return trim_merges(read_merges(Path(merges_path or clip_merges())), vocab_size)


@lru_cache(maxsize=4)
def tokenizer_for(vocab_size: int, merges_path: str = "") -> Tokenizer:
    return Tokenizer.from_text(merges_text(vocab_size, merges_path), vocab_size)


def encode(tokenizer: Tokenizer, texts: Sequence[str], context_length: int) -> List[List[int]]:
    return [tokenizer.encode(text, context_length) for text in texts]


def pad(rows: Sequence[Sequence[int]], pad_id: int = 0) -> torch.Tensor:
    """int64[N, longest row], rows zero-padded after their end-of-text token. The model's
    text tower is causal and pools the end-of-text token, so the padding cannot change
    a row's embedding."""
    length = max(len(r) for r in rows)
    out = torch.full((len(rows), length), pad_id, dtype=torch.int64)
    for i, row in enumerate(rows):
        out[i, :len(row)] = torch.tensor(row, dtype=torch.int64)
    return out
