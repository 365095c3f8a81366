"""A reader (and a small writer) for the safetensors format, without the safetensors
package (Debian 12 has none).

The format: an unsigned 64-bit little-endian header length N, N bytes of UTF-8 JSON,
then the data buffer. The JSON object maps each tensor name to
`{"dtype": "F32", "shape": [d0, d1, ...], "data_offsets": [begin, end]}` (offsets into
the data buffer, end exclusive), plus an optional "__metadata__" object of strings.
Tensors are raw little-endian, C order.

`read_safetensors` checks everything before it builds a tensor: the header length
against the file size and a cap, the JSON (an object, no duplicate names), each entry's
fields, a known dtype, offsets inside the buffer, end - begin == product(shape) *
item size, and that the tensors tile the buffer exactly (no overlap, no hole, as the
format requires). Every error is a `SafetensorsError` whose message starts with the
file name.
"""

from __future__ import annotations

import json
import math
import os
import struct
import sys
from pathlib import Path
from typing import Any, Dict, List, Mapping, Tuple, Union

import torch

# The safetensors library refuses headers over 100 MB; so do we.
MAX_HEADER_BYTES = 100 * 1000 * 1000

# dtype name -> (torch dtype, item size in bytes).
DTYPES: Dict[str, Tuple[torch.dtype, int]] = {
    "F64": (torch.float64, 8),
    "F32": (torch.float32, 4),
    "F16": (torch.float16, 2),
    "BF16": (torch.bfloat16, 2),
    "I64": (torch.int64, 8),
    "I32": (torch.int32, 4),
    "I16": (torch.int16, 2),
    "I8": (torch.int8, 1),
    "U8": (torch.uint8, 1),
    "BOOL": (torch.bool, 1),
}
_NAMES = {dtype: name for name, (dtype, _) in DTYPES.items()}

PathLike = Union[str, "os.PathLike[str]"]


class SafetensorsError(ValueError):
    """A file that is not valid safetensors; the message names the file."""


def _no_duplicates(label: str):
    def hook(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
        out: Dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise SafetensorsError(f"{label}: header names {key!r} twice")
            out[key] = value
        return out
    return hook


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_header(label: str, header: bytes, data_size: int
                 ) -> Tuple[Dict[str, Tuple[str, List[int], int, int]], Dict[str, str]]:
    """({name: (dtype, shape, begin, end)}, metadata) of a header, validated against a
    data buffer of `data_size` bytes."""
    try:
        text = header.decode("utf-8")
    except UnicodeDecodeError as err:
        raise SafetensorsError(f"{label}: header is not UTF-8 ({err})") from None
    try:
        parsed = json.loads(text, object_pairs_hook=_no_duplicates(label))
    except json.JSONDecodeError as err:
        raise SafetensorsError(f"{label}: header is not JSON ({err})") from None
    if not isinstance(parsed, dict):
        raise SafetensorsError(f"{label}: header is not a JSON object")
    metadata = parsed.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise SafetensorsError(f"{label}: __metadata__ must map strings to strings")
    entries: Dict[str, Tuple[str, List[int], int, int]] = {}
    for name, entry in parsed.items():
        where = f"{label}: tensor {name!r}"
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise SafetensorsError(f"{where}: entry must hold exactly dtype, shape and "
                                   f"data_offsets")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if not isinstance(dtype, str) or dtype not in DTYPES:
            raise SafetensorsError(f"{where}: dtype {dtype!r} unsupported (known: "
                                   f"{', '.join(DTYPES)})")
        if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
            raise SafetensorsError(f"{where}: shape {shape!r} is not a list of sizes >= 0")
        if not isinstance(offsets, list) or len(offsets) != 2 \
                or not all(_is_int(o) for o in offsets):
            raise SafetensorsError(f"{where}: data_offsets {offsets!r} is not [begin, end]")
        begin, end = offsets
        if not 0 <= begin <= end <= data_size:
            raise SafetensorsError(f"{where}: data_offsets [{begin}, {end}] outside the "
                                   f"{data_size}-byte data buffer")
        expected = math.prod(shape) * DTYPES[dtype][1]
        if end - begin != expected:
            raise SafetensorsError(f"{where}: {end - begin} bytes for {dtype}{shape}, which "
                                   f"needs {expected}")
        entries[name] = (dtype, list(shape), begin, end)
    position = 0
    for name, (_, _, begin, end) in sorted(entries.items(), key=lambda e: (e[1][2], e[1][3])):
        if begin < position:
            raise SafetensorsError(f"{label}: tensor {name!r} overlaps the tensor before it "
                                   f"(bytes {begin}..{end} of the data buffer)")
        if begin > position:
            raise SafetensorsError(f"{label}: bytes {position}..{begin} of the data buffer "
                                   f"belong to no tensor")
        position = end
    if position != data_size:
        raise SafetensorsError(f"{label}: bytes {position}..{data_size} of the data buffer "
                               f"belong to no tensor")
    return entries, dict(metadata)


def read_safetensors(path: PathLike) -> Dict[str, torch.Tensor]:
    """Every tensor of a .safetensors file (CPU, the stored dtype)."""
    tensors, _ = read_safetensors_with_metadata(path)
    return tensors


def read_safetensors_with_metadata(path: PathLike
                                   ) -> Tuple[Dict[str, torch.Tensor], Dict[str, str]]:
    label = str(path)
    if sys.byteorder != "little":
        raise SafetensorsError(f"{label}: this reader needs a little-endian machine")
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size < 8:
            raise SafetensorsError(f"{label}: {size} bytes, too short for a safetensors file")
        (header_len,) = struct.unpack("<Q", f.read(8))
        if header_len > MAX_HEADER_BYTES:
            raise SafetensorsError(f"{label}: header length {header_len} over the "
                                   f"{MAX_HEADER_BYTES}-byte limit")
        if header_len > size - 8:
            raise SafetensorsError(f"{label}: header length {header_len} past the end of the "
                                   f"{size}-byte file")
        header = f.read(header_len)
        entries, metadata = parse_header(label, header, size - 8 - header_len)
        data = bytearray(f.read())
    if len(data) != size - 8 - header_len:
        raise SafetensorsError(f"{label}: file changed while being read")
    tensors: Dict[str, torch.Tensor] = {}
    for name, (dtype, shape, begin, end) in entries.items():
        torch_dtype = DTYPES[dtype][0]
        if end == begin:
            tensors[name] = torch.empty(shape, dtype=torch_dtype)
            continue
        flat = torch.frombuffer(data, dtype=torch_dtype, count=math.prod(shape),
                                offset=begin)
        tensors[name] = flat.reshape(shape).clone()
    return tensors, metadata


def write_safetensors(tensors: Mapping[str, torch.Tensor], path: PathLike,
                      metadata: Mapping[str, str] = None) -> None:
    """Write `tensors` (any device; stored contiguous, little-endian) as safetensors."""
    header: Dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = dict(metadata)
    blobs: List[bytes] = []
    offset = 0
    for name, tensor in tensors.items():
        if tensor.dtype not in _NAMES:
            raise ValueError(f"{path}: tensor {name!r} has dtype {tensor.dtype}, which "
                             f"safetensors has no name for here")
        t = tensor.detach().cpu().contiguous()
        raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": _NAMES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)
    with open(Path(path), "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for blob in blobs:
            f.write(blob)
