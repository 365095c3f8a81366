"""SentencePiece helpers for SigLIP-style bundles (text.tokenizer "sentencepiece").

`model_pieces` reads the piece table of a SentencePiece model proto without the
sentencepiece or protobuf packages (the importer needs only the ids of a few special
pieces). `canonicalize` and `encode_rows` are the Python reference of what libcerebro
does for such a bundle, following Hugging Face's SiglipTokenizer:

1. lower-case (str.lower) when the bundle's text.lowercase is true
   (SiglipTokenizer's do_lower_case, default true);
2. when text.canonicalize is true, big_vision's canonicalisation: remove every ASCII
   punctuation character (Python's string.punctuation), replace each run of
   whitespace (Python's `\\s`, Unicode) with one space, strip;
3. SentencePiece EncodeAsIds (no sampling; the model's own normaliser and dummy
   prefix);
4. keep the first context_length - 1 ids (- 2 with a start token), append eot_id
   (SigLIP: "</s>"), pad with pad_id to context_length.

One difference from SiglipTokenizer: for text that canonicalises to nothing it yields a
lone "▁" piece (it encodes "▁" + text with the dummy prefix switched off); here the
pieces are empty, so the row is [eot, pad, ...].
"""

from __future__ import annotations

import re
import string
from typing import Any, List, Mapping, Sequence, Tuple

import torch

_PUNCTUATION = str.maketrans("", "", string.punctuation)
_SPACES = re.compile(r"\s+")


class SentencePieceModelError(ValueError):
    pass


def _varint(data: bytes, pos: int, label: str) -> Tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(data) or shift > 63:
            raise SentencePieceModelError(f"{label}: truncated or malformed varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def _fields(data: bytes, label: str):
    """(field number, wire type, value) of a protobuf message; value is an int for
    varints and fixed-width fields, bytes for length-delimited ones."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos, label)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos, label)
        elif wire == 1:
            value, pos = int.from_bytes(data[pos:pos + 8], "little"), pos + 8
        elif wire == 2:
            length, pos = _varint(data, pos, label)
            value, pos = data[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = int.from_bytes(data[pos:pos + 4], "little"), pos + 4
        else:
            raise SentencePieceModelError(f"{label}: unsupported protobuf wire type {wire}")
        if pos > len(data):
            raise SentencePieceModelError(f"{label}: truncated protobuf field {field}")
        yield field, wire, value


def model_pieces(data: bytes, label: str = "spm.model") -> List[str]:
    """The pieces of a SentencePiece ModelProto, in id order."""
    pieces: List[str] = []
    for field, wire, value in _fields(data, label):
        if field == 1 and wire == 2:
            piece = None
            for sub_field, sub_wire, sub_value in _fields(value, label):
                if sub_field == 1 and sub_wire == 2:
                    piece = sub_value.decode("utf-8", errors="strict")
            if piece is None:
                raise SentencePieceModelError(f"{label}: piece {len(pieces)} has no text")
            pieces.append(piece)
    if not pieces:
        raise SentencePieceModelError(f"{label}: no pieces; not a SentencePiece model")
    return pieces


def canonicalize(text: str) -> str:
    text = text.translate(_PUNCTUATION)
    return _SPACES.sub(" ", text).strip()


def prepare(text: str, config: Mapping[str, Any]) -> str:
    if config.get("lowercase"):
        text = text.lower()
    if config.get("canonicalize"):
        text = canonicalize(text)
    return text


def encode_rows(processor: Any, texts: Sequence[str], config: Mapping[str, Any]
                ) -> torch.Tensor:
    """int64[N, context_length] rows for a bundle's text section, with a
    sentencepiece.SentencePieceProcessor loaded from the bundle's spm file."""
    length = config["context_length"]
    sot = config.get("sot_id", -1)
    keep = length - 1 - (1 if sot >= 0 else 0)
    rows = torch.full((len(texts), length), config["pad_id"], dtype=torch.int64)
    for i, text in enumerate(texts):
        ids = list(processor.EncodeAsIds(prepare(text, config)))[:keep]
        ids = ([sot] if sot >= 0 else []) + ids + [config["eot_id"]]
        rows[i, :len(ids)] = torch.tensor(ids, dtype=torch.int64)
    return rows
