"""The training loop: data parallel equals one process, resume equals an uninterrupted
run, batches are a pure function of (seed, step), the group-aware loss."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cerebro_train import synthetic
from cerebro_train.train import (CHECKPOINT, TrainConfig, contrastive_loss, global_batch,
                                 learning_rate, load_checkpoint, load_stream, run_training)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("train-data")
    synthetic.make(root)
    return root


def config(data: Path, run: Path, steps: int, **changes) -> TrainConfig:
    manifests = data / "manifests"
    cfg = TrainConfig(
        run=run, manifests=[str(manifests / "synthetic-shapes.jsonl"),
                            str(manifests / "cifar-seed.jsonl") + "*2"],
        extra_manifests=[], extra_share=0.0, preset="tiny", arch=None, init=None, steps=steps,
        batch=16, lr=2e-3, final_lr=1e-4, warmup=1, weight_decay=0.1, clip=1.0, seed=3,
        precision="fp32", augment=True, checkpoint_every=100, log_every=1,
        cache_dir=data / "cache", merges="", threads=1)
    return dataclasses.replace(cfg, **changes)


def weights(run: Path) -> dict:
    return load_checkpoint(run / CHECKPOINT)["model"]


def max_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a)


def test_two_process_data_parallel_matches_one_process(data: Path, tmp_path: Path) -> None:
    one = config(data, tmp_path / "one", 3)
    two = dataclasses.replace(one, run=tmp_path / "two", threads=2)
    run_training(one, nproc=1)
    run_training(two, nproc=2)
    diff = max_difference(weights(one.run), weights(two.run))
    assert diff < 1e-4, diff
    # The runs did train (the comparison is not between two untouched models).
    fresh = config(data, tmp_path / "zero", 0)
    from cerebro_train.train import initial_model
    model, _ = initial_model(fresh)
    assert max_difference(weights(one.run), model.state_dict()) > 1e-3


def test_resume_continues_exactly(data: Path, tmp_path: Path) -> None:
    straight = config(data, tmp_path / "straight", 4)
    run_training(straight)
    interrupted = config(data, tmp_path / "interrupted", 4, stop_after=2, checkpoint_every=1)
    run_training(interrupted)
    assert load_checkpoint(interrupted.run / CHECKPOINT)["step"] == 2
    run_training(dataclasses.replace(interrupted, stop_after=0))
    assert load_checkpoint(interrupted.run / CHECKPOINT)["step"] == 4
    assert max_difference(weights(straight.run), weights(interrupted.run)) < 1e-6
    logged = [line for line in (interrupted.run / "log.jsonl").read_text().splitlines()]
    assert len(logged) == 4


def test_batches_are_a_function_of_seed_and_step(data: Path) -> None:
    cfg = config(data, data / "unused", 1)
    from cerebro_train.arch import preset
    arch = preset("tiny")
    table: dict = {}
    main = load_stream(cfg.manifests, arch, 1.0, cfg.cache_dir, table, 0)
    extra = load_stream([str(data / "manifests" / "cifar-seed.jsonl")], arch, 0.25,
                        cfg.cache_dir, table, len(main))
    a = global_batch([main, extra], 16, seed=5, step=7)
    b = global_batch([main, extra], 16, seed=5, step=7)
    c = global_batch([main, extra], 16, seed=5, step=8)
    assert np.array_equal(a.pixels, b.pixels) and a.tokens == b.tokens
    assert not np.array_equal(a.pixels, c.pixels)
    # The last quarter comes from the extra stream: CIFAR groups, which share ids.
    seed_groups = set(extra.groups.tolist())
    assert set(a.groups[12:].tolist()) <= seed_groups
    assert a.pixels.shape == (16, 32, 32, 3)
    # One epoch of a stream visits every sample once (a repeated manifest, REPEAT times).
    from cerebro_train.train import stream_indices
    seen = np.concatenate([stream_indices(extra, 1, 5, s, 8) for s in range(len(extra) // 8)])
    assert sorted(seen.tolist()) == list(range(len(extra))) and len(extra) == 24
    seen = np.concatenate([stream_indices(main, 0, 5, s, 12) for s in range(len(main) // 12)])
    counts = np.bincount(seen, minlength=len(main.captions))
    assert len(main) == 36 + 2 * 24 and counts[36:].tolist() == [2] * 24


def test_group_aware_contrastive_loss() -> None:
    generator = torch.Generator().manual_seed(0)
    image = torch.randn(6, 8, generator=generator)
    text = torch.randn(6, 8, generator=generator)
    groups = torch.tensor([10, 10, 11, 12, 12, 12])
    scale = torch.tensor(math.log(10.0))
    loss = contrastive_loss(image, text, groups, scale)
    logits = 10.0 * F.normalize(image, dim=-1) @ F.normalize(text, dim=-1).t()
    same = (groups[:, None] == groups[None, :]).float()
    target = same / same.sum(1, keepdim=True)
    expected = (-(target * logits.log_softmax(1)).sum(1).mean()
                - (target * logits.t().log_softmax(1)).sum(1).mean()) / 2
    assert torch.allclose(loss, expected, atol=1e-6)
    # Distinct groups: CLIP's loss (cross-entropy against the diagonal).
    distinct = contrastive_loss(image, text, torch.arange(6), scale)
    clip = (F.cross_entropy(logits, torch.arange(6)) + F.cross_entropy(logits.t(), torch.arange(6))) / 2
    assert torch.allclose(distinct, clip, atol=1e-6)


def test_learning_rate_warms_up_then_decays() -> None:
    rates = [learning_rate(s, 100, 1e-3, 10, 1e-5) for s in range(100)]
    assert rates[0] == pytest.approx(1e-4) and rates[9] == pytest.approx(1e-3)
    assert all(a >= b for a, b in zip(rates[10:], rates[11:]))
    assert rates[-1] == pytest.approx(1e-5, abs=1e-6)
