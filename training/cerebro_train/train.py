"""`train`: contrastive (CLIP) training from random init, resumable.

    python3 -m cerebro_train train --run runs/pretrain --preset small --steps 3000 \
        --manifest data/manifests/google-emoji.jsonl --manifest ...

Loss: CLIP's symmetric cross-entropy over the global batch with a learned temperature
(`logit_scale`, clamped at ln 100); samples of one `group` (e.g. two CIFAR cats) are
positives of each other rather than negatives. AdamW (no decay on gains, biases,
embeddings, temperature), linear warm-up then cosine decay, gradient clipping,
bfloat16 autocast on CPU (LayerNorm/GroupNorm stay float32), light augmentation
(random crop 70-100 % of the area, small aspect change, horizontal flip) on the
cached, library-preprocessed pixels.

Each batch is drawn by a pure function of (seed, step): every stream (the main
manifests, optionally a second set such as pseudo-labels with its share of the batch)
walks its own seeded permutation, and the caption choice and augmentation come from a
generator seeded by the step. So a resumed run continues exactly, and a data-parallel
run (`--nproc N`: torch.distributed, gloo, one slice of the global batch per process,
embeddings gathered so the loss is the global batch's) computes what one process with
the same global batch computes. A checkpoint (model, optimiser, step) is written every
`--checkpoint-every` steps and at the end; rerunning the command resumes from it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from . import arch as archs
from .images import cached_pixels, normalise
from .manifest import read_manifest
from .paths import default_data_dir
from .text import encode, pad, tokenizer_for

CHECKPOINT = "checkpoint.pt"
LOG = "log.jsonl"
MAX_LOGIT_SCALE = math.log(100.0)
UNGROUPED = 1 << 40


# ---- data ----------------------------------------------------------------------------------

@dataclass
class Stream:
    """Samples for one share of each batch."""
    pixels: List[np.ndarray]            # per manifest, uint8[n, S, S, 3]
    offsets: np.ndarray                 # sample index -> (manifest, row) via searchsorted
    captions: List[List[List[int]]]     # per sample, its captions' token ids
    groups: np.ndarray                  # int64 group id per sample
    order: np.ndarray                   # the index space the permutation walks (repeats)
    share: float

    def __len__(self) -> int:
        return len(self.order)

    def pixel_rows(self, indices: np.ndarray) -> np.ndarray:
        manifest = np.searchsorted(self.offsets, indices, side="right") - 1
        out = np.empty((len(indices),) + self.pixels[0].shape[1:], dtype=np.uint8)
        for m in np.unique(manifest):
            where = np.nonzero(manifest == m)[0]
            rows = indices[where] - self.offsets[m]
            out[where] = self.pixels[m][np.sort(rows)][np.argsort(np.argsort(rows))]
        return out


def parse_manifest_arg(text: str) -> Tuple[Path, int]:
    """'PATH' or 'PATH*REPEAT' (each sample appears REPEAT times per epoch)."""
    if "*" in text:
        path, repeat = text.rsplit("*", 1)
        return Path(path), int(repeat)
    return Path(text), 1


def manifest_label(text: str) -> str:
    """A manifest argument as the bundle's provenance records it: the file's name and its
    repeat ('google-emoji.jsonl*4'), never a folder of the machine that trained it."""
    path, repeat = parse_manifest_arg(text)
    return path.name + (f"*{repeat}" if repeat != 1 else "")


def group_id(record: Dict[str, Any], table: Dict[str, int], fallback: int,
             ungroup: Sequence[str] = ()) -> int:
    """The record's group number; records without a group, or whose group starts with
    one of the `ungroup` prefixes (e.g. "emoji:"), are each a group of their own."""
    group = record.get("group")
    if group is None or any(group.startswith(prefix) for prefix in ungroup):
        return UNGROUPED + fallback
    return table.setdefault(group, len(table))


def load_stream(manifests: Sequence[str], arch: Dict[str, Any], share: float,
                cache_dir: Path, group_table: Dict[str, int], first_id: int,
                merges: str = "", workers: int = 2, caption_fields: Sequence[str] = (),
                ungroup: Sequence[str] = ()) -> Stream:
    """caption_fields: record fields whose captions join `captions` (captions.py's
    `typed`, `wordnet`); ungroup: group prefixes treated as no group."""
    tokenizer = tokenizer_for(arch["vocab_size"], merges)
    size, context = arch["image_resolution"], arch["context_length"]
    pixels, captions, groups, order, offsets = [], [], [], [], [0]
    for spec in manifests:
        path, repeat = parse_manifest_arg(spec)
        records = read_manifest(path)
        if not records:
            raise ValueError(f"{path}: empty manifest")
        pixels.append(cached_pixels([r["image"] for r in records], size, cache_dir, workers))
        for record in records:
            if not record.get("captions"):
                raise ValueError(f"{path}: record {record.get('id', record['image'])} "
                                 "has no captions")
            texts = list(record["captions"])
            for field in caption_fields:
                texts += [t for t in record.get(field) or [] if t not in texts]
            captions.append(encode(tokenizer, texts, context))
            groups.append(group_id(record, group_table, first_id + len(groups), ungroup))
        base = offsets[-1]
        order.extend(list(range(base, base + len(records))) * repeat)
        offsets.append(base + len(records))
    return Stream(pixels, np.array(offsets[:-1]), captions, np.array(groups, dtype=np.int64),
                  np.array(order, dtype=np.int64), share)


def stream_counts(streams: Sequence[Stream], batch: int) -> List[int]:
    counts = [int(round(s.share * batch)) for s in streams[1:]]
    return [batch - sum(counts)] + counts


def stream_indices(stream: Stream, stream_number: int, seed: int, step: int, count: int
                   ) -> np.ndarray:
    """`count` samples for `step`: positions step*count.. of the stream's endless
    sequence of seeded epoch permutations."""
    out = np.empty(count, dtype=np.int64)
    n = len(stream)
    start = step * count
    filled = 0
    while filled < count:
        epoch, offset = divmod(start + filled, n)
        perm = np.random.default_rng([seed, stream_number, epoch]).permutation(n)
        take = min(count - filled, n - offset)
        out[filled:filled + take] = stream.order[perm[offset:offset + take]]
        filled += take
    return out


@dataclass
class Batch:
    pixels: np.ndarray        # uint8[B, S, S, 3]
    tokens: List[List[int]]
    groups: np.ndarray        # int64[B]
    aug: torch.Tensor         # float32[B, 5] random numbers for augmentation


def global_batch(streams: Sequence[Stream], batch: int, seed: int, step: int) -> Batch:
    generator = torch.Generator().manual_seed(seed * 1_000_003 + step)
    pixels, tokens, groups = [], [], []
    for number, (stream, count) in enumerate(zip(streams, stream_counts(streams, batch))):
        if count <= 0:
            continue
        idx = stream_indices(stream, number, seed, step, count)
        pixels.append(stream.pixel_rows(idx))
        picks = torch.rand(count, generator=generator).numpy()
        for i, p in zip(idx, picks):
            options = stream.captions[i]
            tokens.append(options[min(int(p * len(options)), len(options) - 1)])
        groups.append(stream.groups[idx])
    aug = torch.rand(batch, 5, generator=generator)
    return Batch(np.concatenate(pixels), tokens, np.concatenate(groups), aug)


def augment(pixels: torch.Tensor, rand: torch.Tensor, min_area: float = 0.7) -> torch.Tensor:
    """Random crop (area min_area..1, aspect 3/4..4/3), resized back; horizontal flip.
    pixels: float [B, 3, S, S]; rand: [B, 5] uniform numbers."""
    area = min_area + (1 - min_area) * rand[:, 0]
    log_aspect = (rand[:, 1] * 2 - 1) * math.log(4 / 3)
    sx = torch.sqrt(area * torch.exp(log_aspect)).clamp(max=1.0)
    sy = torch.sqrt(area / torch.exp(log_aspect)).clamp(max=1.0)
    tx = (rand[:, 2] * 2 - 1) * (1 - sx)
    ty = (rand[:, 3] * 2 - 1) * (1 - sy)
    flip = torch.where(rand[:, 4] < 0.5, -1.0, 1.0)
    theta = torch.zeros(pixels.size(0), 2, 3)
    theta[:, 0, 0] = sx * flip
    theta[:, 0, 2] = tx
    theta[:, 1, 1] = sy
    theta[:, 1, 2] = ty
    grid = F.affine_grid(theta, list(pixels.shape), align_corners=False)
    return F.grid_sample(pixels, grid, mode="bilinear", padding_mode="border",
                         align_corners=False)


def model_inputs(batch: Batch, augmentation: bool) -> Tuple[torch.Tensor, torch.Tensor]:
    images = normalise(torch.from_numpy(batch.pixels))
    if augmentation:
        images = augment(images, batch.aug)
    return images, pad(batch.tokens)


# ---- loss ----------------------------------------------------------------------------------

class GatherWithGrad(torch.autograd.Function):
    """all_gather whose backward sums every process's gradient for this slice (gloo has
    all_reduce but not reduce_scatter)."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        world = dist.get_world_size()
        parts = [torch.empty_like(tensor) for _ in range(world)]
        dist.all_gather(parts, tensor.contiguous())
        ctx.rank, ctx.rows = dist.get_rank(), tensor.size(0)
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        grad = grad.contiguous()
        dist.all_reduce(grad)
        return grad[ctx.rank * ctx.rows:(ctx.rank + 1) * ctx.rows]


def gather(tensor: torch.Tensor) -> torch.Tensor:
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return tensor
    return GatherWithGrad.apply(tensor)


def contrastive_loss(image: torch.Tensor, text: torch.Tensor, groups: torch.Tensor,
                     logit_scale: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE over the batch; same-group pairs share the target mass."""
    image = F.normalize(image.float(), dim=-1)
    text = F.normalize(text.float(), dim=-1)
    logits = logit_scale.clamp(max=MAX_LOGIT_SCALE).exp() * image @ text.t()
    targets = (groups[:, None] == groups[None, :]).float()
    targets = targets / targets.sum(dim=1, keepdim=True)
    loss_i = -(targets * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
    loss_t = -(targets * F.log_softmax(logits.t(), dim=1)).sum(dim=1).mean()
    return (loss_i + loss_t) / 2


# ---- optimisation --------------------------------------------------------------------------

def parameter_groups(model: nn.Module, weight_decay: float) -> List[Dict[str, Any]]:
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if param.ndim < 2 or "embedding" in name or "logit_scale" in name:
            no_decay.append(param)
        else:
            decay.append(param)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def learning_rate(step: int, steps: int, base: float, warmup: int, final: float) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return final + (base - final) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


# ---- checkpoints ---------------------------------------------------------------------------

def save_checkpoint(path: Path, model: nn.Module, optimizer: Optional[torch.optim.Optimizer],
                    step: int, arch: Dict[str, Any], meta: Dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"model": model.state_dict(), "arch": arch, "step": step, "meta": meta,
                "optimizer": optimizer.state_dict() if optimizer else None}, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path) -> Dict[str, Any]:
    return torch.load(path, map_location="cpu")


def model_from_checkpoint(path: Path) -> Tuple[nn.Module, Dict[str, Any]]:
    state = load_checkpoint(path)
    model = archs.build_model(state["arch"])
    model.load_state_dict(state["model"])
    return model, state


# ---- the loop ------------------------------------------------------------------------------

@dataclass
class TrainConfig:
    run: Path
    manifests: List[str]
    extra_manifests: List[str]
    extra_share: float
    preset: str
    arch: Optional[Dict[str, Any]]
    init: Optional[Path]
    steps: int
    batch: int
    lr: float
    final_lr: float
    warmup: int
    weight_decay: float
    clip: float
    seed: int
    precision: str
    augment: bool
    checkpoint_every: int
    log_every: int
    cache_dir: Path
    merges: str
    threads: int
    stop_after: int = 0
    deterministic: bool = False
    caption_fields: Tuple[str, ...] = ()
    ungroup: Tuple[str, ...] = ()


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(
        run=args.run, manifests=list(args.manifest), extra_manifests=list(args.extra_manifest or []),
        extra_share=args.extra_share, preset=args.preset,
        arch=json.loads(args.arch) if args.arch else None, init=args.init, steps=args.steps,
        batch=args.batch, lr=args.lr, final_lr=args.final_lr, warmup=args.warmup,
        weight_decay=args.weight_decay, clip=args.clip, seed=args.seed,
        precision=args.precision, augment=not args.no_augment,
        checkpoint_every=args.checkpoint_every, log_every=args.log_every,
        cache_dir=args.cache_dir or (args.data_dir / "cache"), merges=args.merges or "",
        threads=args.threads, stop_after=args.stop_after,
        caption_fields=tuple(f for f in args.caption_fields.split(",") if f),
        ungroup=tuple(g for g in args.ungroup.split(",") if g))


def initial_model(cfg: TrainConfig) -> Tuple[nn.Module, Dict[str, Any]]:
    if cfg.init is not None:
        model, state = model_from_checkpoint(cfg.init)
        return model, state["arch"]
    arch = cfg.arch or archs.preset(cfg.preset)
    torch.manual_seed(cfg.seed)
    return archs.build_model(arch), arch


def truncate_log(path: Path, step: int) -> None:
    """Drop log entries after `step` (written after the checkpoint a run resumes from)."""
    if not path.is_file():
        return
    kept = [line for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and json.loads(line)["step"] <= step]
    path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")


def append_log(path: Path, entry: Dict[str, Any]) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")


def train_process(rank: int, world: int, cfg: TrainConfig, port: int) -> Dict[str, Any]:
    """One process of a (possibly distributed) run. Returns the final metrics."""
    if world > 1 and not dist.is_initialized():
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", str(port))
        dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.set_num_threads(max(1, cfg.threads // world))
    if cfg.batch % world:
        raise ValueError(f"batch {cfg.batch} is not divisible by {world} processes")
    run = cfg.run
    run.mkdir(parents=True, exist_ok=True)
    checkpoint = run / CHECKPOINT

    model, arch = initial_model(cfg)
    optimizer = torch.optim.AdamW(parameter_groups(model, cfg.weight_decay), lr=cfg.lr,
                                  betas=(0.9, 0.98), eps=1e-6)
    step = 0
    if checkpoint.is_file():
        state = load_checkpoint(checkpoint)
        model.load_state_dict(state["model"])
        if state.get("optimizer"):
            optimizer.load_state_dict(state["optimizer"])
        step = state["step"]
        if rank == 0:
            print(f"train: resuming {run} at step {step}/{cfg.steps}", flush=True)
            truncate_log(run / LOG, step)
    if step >= cfg.steps:
        return {"step": step, "resumed_complete": True}

    group_table: Dict[str, int] = {}
    streams = [load_stream(cfg.manifests, arch, 1.0, cfg.cache_dir, group_table, 0, cfg.merges,
                           caption_fields=cfg.caption_fields, ungroup=cfg.ungroup)]
    if cfg.extra_manifests and cfg.extra_share > 0:
        streams.append(load_stream(cfg.extra_manifests, arch, cfg.extra_share, cfg.cache_dir,
                                   group_table, len(streams[0]), cfg.merges,
                                   caption_fields=cfg.caption_fields, ungroup=cfg.ungroup))

    ddp: nn.Module = model
    if world > 1:
        ddp = nn.parallel.DistributedDataParallel(model, broadcast_buffers=False)
    local = cfg.batch // world
    autocast = cfg.precision == "bf16"
    meta = {"preset": cfg.preset, "steps": cfg.steps, "batch": cfg.batch, "lr": cfg.lr,
            "seed": cfg.seed, "manifests": [manifest_label(m) for m in cfg.manifests],
            "extra": [manifest_label(m) for m in cfg.extra_manifests],
            "extra_share": cfg.extra_share, "precision": cfg.precision, "world": world,
            "init": f"{Path(cfg.init).parent.name}/{Path(cfg.init).name}" if cfg.init else None,
            "samples": [len(s) for s in streams],
            "caption_fields": list(cfg.caption_fields), "ungroup": list(cfg.ungroup)}
    if rank == 0:
        print(f"train: {run.name}: {archs.count_parameters(model):,} parameters, "
              f"streams {[len(s) for s in streams]}, {cfg.steps} steps x {cfg.batch}",
              flush=True)
    model.train()
    started, window_start, window_steps = time.time(), time.time(), 0
    last_loss = float("nan")
    while step < cfg.steps:
        lr = learning_rate(step, cfg.steps, cfg.lr, cfg.warmup, cfg.final_lr)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = global_batch(streams, cfg.batch, cfg.seed, step)
        images, tokens = model_inputs(batch, cfg.augment)
        sl = slice(rank * local, (rank + 1) * local)
        groups = torch.from_numpy(batch.groups)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            image_emb, text_emb = ddp(images[sl], tokens[sl])
        loss = contrastive_loss(gather(image_emb.float()), gather(text_emb.float()), groups,
                                model.logit_scale)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = float(nn.utils.clip_grad_norm_(model.parameters(), cfg.clip))
        optimizer.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, MAX_LOGIT_SCALE)
        step += 1
        window_steps += 1
        last_loss = float(loss)
        if rank == 0 and (step % cfg.log_every == 0 or step == cfg.steps):
            now = time.time()
            entry = {"step": step, "loss": round(last_loss, 5), "lr": lr,
                     "scale": round(float(model.logit_scale.exp()), 3),
                     "grad_norm": round(grad_norm, 4),
                     "img_per_s": round(window_steps * cfg.batch / (now - window_start), 1),
                     "time": round(now - started, 1)}
            append_log(run / LOG, entry)
            print("train: " + json.dumps(entry), flush=True)
            window_start, window_steps = now, 0
        if rank == 0 and (step % cfg.checkpoint_every == 0 or step == cfg.steps):
            save_checkpoint(checkpoint, model, optimizer, step, arch, meta)
        if cfg.stop_after and step >= cfg.stop_after:
            break
    if world > 1:
        dist.barrier()
    return {"step": step, "loss": last_loss}


def _spawned(rank: int, world: int, cfg: TrainConfig, port: int) -> None:
    try:
        train_process(rank, world, cfg, port)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_training(cfg: TrainConfig, nproc: int = 1) -> Dict[str, Any]:
    """Train in this process (nproc 1 or under torchrun) or spawn nproc gloo workers."""
    if "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1:
        rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        return train_process(rank, world, cfg, int(os.environ.get("MASTER_PORT", 29500)))
    if nproc <= 1:
        return train_process(0, 1, cfg, 0)
    import torch.multiprocessing as mp
    mp.spawn(_spawned, args=(nproc, cfg, free_port()), nprocs=nproc, join=True)
    state = load_checkpoint(cfg.run / CHECKPOINT)
    return {"step": state["step"]}


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", type=Path, required=True, help="run folder (checkpoint, log)")
    parser.add_argument("--manifest", action="append", default=[], required=True,
                        help="training manifest, PATH or PATH*REPEAT (repeatable)")
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--final-lr", type=float, default=1e-5)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--weight-decay", type=float, default=0.2)
    parser.add_argument("--clip", type=float, default=1.0, help="gradient norm clip")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precision", choices=["bf16", "fp32"], default="bf16")
    parser.add_argument("--no-augment", action="store_true")
    parser.add_argument("--checkpoint-every", type=int, default=100)
    parser.add_argument("--log-every", type=int, default=10)
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--merges", default="", help="CLIP BPE merges (default: shared data)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--nproc", type=int, default=1, help="data-parallel processes (gloo)")
    parser.add_argument("--caption-fields", default="",
                        help="extra caption fields of the manifests to train on, e.g. "
                        "typed,wordnet (captions.py)")
    parser.add_argument("--ungroup", default="",
                        help="comma-separated group prefixes to ignore (e.g. emoji:)")
    parser.add_argument("--stop-after", type=int, default=0,
                        help="stop (checkpointed) after this step; rerun to resume")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser)
    parser.add_argument("--preset", default=archs.DEFAULT_PRESET, choices=list(archs.PRESETS))
    parser.add_argument("--arch", default="", help="architecture as JSON (overrides --preset)")
    parser.add_argument("--init", type=Path, default=None,
                        help="start from this checkpoint's weights (not its optimiser)")
    parser.add_argument("--extra-manifest", action="append", default=[])
    parser.add_argument("--extra-share", type=float, default=0.0)


def main(args: argparse.Namespace) -> int:
    result = run_training(config_from_args(args), args.nproc)
    print(json.dumps(result))
    return 0
