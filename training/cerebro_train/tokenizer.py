"""CLIP's byte-level BPE tokenizer: the Python reference for libcerebro's C tokenizer.

Written from CLIP's published rules (openai/CLIP, simple_tokenizer.py), not copied:

1. Cleaning: ``html.unescape`` twice, strip, collapse every run of ``regex``'s ``\\s``
   into one space, strip again, then ``str.lower()`` (full lower-casing: U+0130 becomes
   "i" + U+0307, and capital sigma becomes final sigma at the end of a word).
   CLIP first runs ``ftfy.fix_text``; we skip it (ftfy is not in Debian 12, and
   it rewrites text heuristically), so text that ftfy would repair (mojibake, some
   compatibility characters) tokenizes differently from CLIP.
2. Pieces: ``regex.findall`` of ``_PIECE`` (case-insensitive) over the cleaned text.
   A piece equal to a special token maps to its id; the other pieces are BPE-encoded.
3. BPE: a piece's UTF-8 bytes become symbols through CLIP's byte alphabet, the last
   symbol gets "</w>", then the pair of adjacent symbols with the lowest merge rank is
   merged everywhere (left to right) until no adjacent pair has a rank.

Vocabulary ids: the 256 byte symbols (in alphabet order), the same with "</w>", one
id per merge (its two halves joined), then <|startoftext|> and <|endoftext|>.
"""

from __future__ import annotations

import gzip
import html
import os
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import regex

from .paths import clip_merges

SOT_TEXT = "<|startoftext|>"
EOT_TEXT = "<|endoftext|>"
END_OF_WORD = "</w>"
CLIP_VOCAB_SIZE = 49408
CLIP_CONTEXT_LENGTH = 77
BYTE_SYMBOLS = 512
SPECIAL_TOKENS = 2
DEFAULT_MERGES = str(clip_merges())

_PIECE = regex.compile(
    r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d"""
    r"""|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
    regex.IGNORECASE)
_SPACES = regex.compile(r"\s+")
_CACHE_LIMIT = 100_000


def byte_alphabet() -> List[str]:
    """The printable character standing for each byte value 0..255.

    Bytes that are printable Latin-1 ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for
    themselves; the others take U+0100, U+0101, ... in increasing byte order."""
    printable = [b for b in range(256)
                 if ord("!") <= b <= ord("~") or ord("¡") <= b <= ord("¬") or ord("®") <= b <= ord("ÿ")]
    alphabet: List[str] = [""] * 256
    for b in printable:
        alphabet[b] = chr(b)
    next_code = 256
    for b in range(256):
        if not alphabet[b]:
            alphabet[b] = chr(next_code)
            next_code += 1
    return alphabet


def _byte_symbol_order() -> List[str]:
    """Byte symbols in vocabulary order: printable bytes first, then the rest."""
    alphabet = byte_alphabet()
    printable = [alphabet[b] for b in range(256) if ord(alphabet[b]) < 256]
    remapped = [alphabet[b] for b in range(256) if ord(alphabet[b]) >= 256]
    return printable + remapped


def clean(text: str) -> str:
    """CLIP's text normalisation without ftfy: unescape HTML twice, collapse
    whitespace, strip, lower-case."""
    text = html.unescape(html.unescape(text)).strip()
    text = _SPACES.sub(" ", text).strip()
    return text.lower()


def pieces(cleaned: str) -> List[str]:
    """The pre-tokenizer's pieces of already cleaned text."""
    return _PIECE.findall(cleaned)


def read_merges_text(path: Union[str, os.PathLike]) -> str:
    """Contents of a merges file, plain or gzip-compressed."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data.decode("utf-8")


def parse_merges(text: str, count: Optional[int]) -> List[Tuple[str, str]]:
    """The first `count` merges after the header line (None: all of them, up to
    CLIP's count). A final newline does not start another line; every line used
    must hold exactly two fields."""
    lines = text.split("\n")[1:]
    if lines and lines[-1] == "":
        lines.pop()
    if count is None:
        count = min(len(lines), CLIP_VOCAB_SIZE - BYTE_SYMBOLS - SPECIAL_TOKENS)
    if len(lines) < count:
        raise ValueError(f"merges text has {len(lines)} merges after the header, need {count}")
    merges: List[Tuple[str, str]] = []
    for number, line in enumerate(lines[:count], start=2):
        halves = line.split()
        if len(halves) != 2:
            raise ValueError(f"merges line {number}: expected 'left right', got {line[:60]!r}")
        merges.append((halves[0], halves[1]))
    return merges


class Tokenizer:
    """CLIP tokenizer over a list of merges. Not thread-safe (it caches BPE results)."""

    def __init__(self, merges: Sequence[Tuple[str, str]]) -> None:
        symbols = _byte_symbol_order()
        vocab = symbols + [s + END_OF_WORD for s in symbols]
        vocab += [left + right for left, right in merges]
        vocab += [SOT_TEXT, EOT_TEXT]
        # A later duplicate string takes the later id, as a dict built from the list would.
        self.encoder: Dict[str, int] = {s: i for i, s in enumerate(vocab)}
        self.ranks: Dict[Tuple[str, str], int] = {m: r for r, m in enumerate(merges)}
        self.vocab_size = len(vocab)
        self.sot = len(vocab) - 2
        self.eot = len(vocab) - 1
        self._alphabet = byte_alphabet()
        self._cache: Dict[str, List[int]] = {}

    @classmethod
    def from_text(cls, text: str, vocab_size: Optional[int] = None) -> "Tokenizer":
        """From merges text; vocab_size None takes CLIP's count (or fewer if the text is short)."""
        if vocab_size is None:
            return cls(parse_merges(text, None))
        count = vocab_size - BYTE_SYMBOLS - SPECIAL_TOKENS
        if count < 0:
            raise ValueError(f"vocab_size {vocab_size} is below {BYTE_SYMBOLS + SPECIAL_TOKENS}")
        return cls(parse_merges(text, count))

    @classmethod
    def from_file(cls, path: Union[str, os.PathLike] = DEFAULT_MERGES,
                  vocab_size: Optional[int] = None) -> "Tokenizer":
        return cls.from_text(read_merges_text(path), vocab_size)

    def bpe(self, piece: str) -> List[str]:
        """The BPE symbols of one piece (the last one ends in "</w>")."""
        chars = [self._alphabet[b] for b in piece.encode("utf-8")]
        word = chars[:-1] + [chars[-1] + END_OF_WORD]
        while len(word) > 1:
            ranked = [(self.ranks[p], p) for p in zip(word, word[1:]) if p in self.ranks]
            if not ranked:
                break
            left, right = min(ranked)[1]
            merged: List[str] = []
            i = 0
            while i < len(word):
                if i + 1 < len(word) and word[i] == left and word[i + 1] == right:
                    merged.append(left + right)
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        return word

    def _piece_ids(self, piece: str) -> List[int]:
        if piece == SOT_TEXT:
            return [self.sot]
        if piece == EOT_TEXT:
            return [self.eot]
        ids = self._cache.get(piece)
        if ids is None:
            ids = [self.encoder[s] for s in self.bpe(piece)]
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[piece] = ids
        return ids

    def iter_ids(self, text: str) -> Iterator[int]:
        """Token ids of `text` without the start/end tokens."""
        for piece in pieces(clean(text)):
            yield from self._piece_ids(piece)

    def encode(self, text: str, context_length: int = 0) -> List[int]:
        """<|startoftext|>, the ids, <|endoftext|>. With context_length > 0 the result is
        cut to context_length tokens, the end token kept last."""
        tokens = [self.sot]
        for token in self.iter_ids(text):
            tokens.append(token)
            if 0 < context_length < len(tokens):
                break
        tokens.append(self.eot)
        if 0 < context_length < len(tokens):
            tokens = tokens[:context_length]
            tokens[-1] = self.eot
        return tokens

    def encode_batch(self, texts: Sequence[str], context_length: int = CLIP_CONTEXT_LENGTH,
                     pad: int = 0) -> List[List[int]]:
        """Each text encoded and truncated to context_length, then padded with `pad`."""
        rows = []
        for text in texts:
            row = self.encode(text, context_length)
            rows.append(row + [pad] * (context_length - len(row)))
        return rows
