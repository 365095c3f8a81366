"""The whole training pipeline on a few dozen synthetic images for a few steps:
pretrain -> (pseudo-label through libcerebro -> fine-tune) x 3 + control -> export ->
evaluate -> report, then a rerun that resumes (does nothing), and the exported bundle
loaded and run by the C library through its Python binding.

No network: the data are drawn here (cerebro_train.synthetic). Needs libcerebro built
(the binding finds it from $CEREBRO_LIBRARY or the build tree) and python3-matplotlib.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from cerebro_train import synthetic
from cerebro_train.binding import import_cerebro
from cerebro_train.bundle import load_bundle
from cerebro_train.manifest import read_json, read_manifest
from conftest import TRAINING

ROUNDS = 3
PRETRAIN_STEPS = 30
RESTART_STEPS = 10
ROUND_STEPS = 6


def pipeline_command(data: Path, run: Path, install: Path) -> list:
    return [sys.executable, "-m", "cerebro_train", "pipeline", "--run", str(run),
            "--data-dir", str(data), "--train-manifests", "synthetic-shapes,cifar-seed",
            "--preset", "tiny", "--name", "smoke", "--rounds", str(ROUNDS),
            "--pretrain-steps", str(PRETRAIN_STEPS), "--restart-steps", str(RESTART_STEPS),
            "--restart-lr", "1e-3", "--round-steps", str(ROUND_STEPS),
            "--batch", "32", "--lr", "3e-3", "--finetune-lr", "1e-3", "--warmup", "3",
            "--finetune-warmup", "1", "--seed-repeat", "2", "--pool-limit", "0",
            "--checkpoint-every", "10", "--log-every", "2", "--threads", "1",
            "--install", str(install)]


def run_pipeline(data: Path, run: Path, install: Path) -> str:
    result = subprocess.run(pipeline_command(data, run, install), cwd=TRAINING,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("smoke")
    data, run, install = root / "data", root / "run", root / "models" / "default.pt"
    synthetic.make(data)
    first = run_pipeline(data, run, install)
    return data, run, install, first


def losses(log: Path) -> list:
    return [json.loads(line)["loss"] for line in log.read_text().splitlines() if line.strip()]


def test_every_stage_completes_and_loss_falls(smoke) -> None:
    _, run, _, _ = smoke
    names = ["pretrain", "pretrain2"] + [f"round{r}" for r in range(1, ROUNDS + 1)] + \
        [f"control{r}" for r in range(1, ROUNDS + 1)]
    steps = {"pretrain": PRETRAIN_STEPS, "pretrain2": RESTART_STEPS}
    for name in names:
        stage = run / name
        assert torch.load(stage / "checkpoint.pt")["step"] == steps.get(name, ROUND_STEPS), name
        assert (stage / "bundle.pt").is_file() and (stage / "eval.json").is_file(), name
    pretrain = losses(run / "pretrain" / "log.jsonl")
    assert len(pretrain) == PRETRAIN_STEPS // 2
    assert np.mean(pretrain[-3:]) < 0.8 * np.mean(pretrain[:2]), pretrain
    # The restart starts from the first cycle's weights, not from random ones,
    # and both arms start from the restart.
    restart = losses(run / "pretrain2" / "log.jsonl")
    assert np.mean(restart[:2]) < 0.8 * np.mean(pretrain[:2]), (pretrain, restart)
    inits = {s["name"]: s["init"] for s in read_json(run / "pipeline.json")["stages"]}
    assert inits["pretrain2"] == "pretrain"
    assert inits["round1"] == inits["control1"] == "pretrain2"


def test_pseudo_labels_come_with_a_report(smoke) -> None:
    data, run, _, _ = smoke
    for r in range(1, ROUNDS + 1):
        report = read_json(run / f"round{r}" / "pseudo-report.json")
        assert report["pool"] == 48 and report["vocabulary"] == 8
        # A share of the 48 pool images, rounded to 4 places: k/48 for a whole k.
        correct = report["pool_accuracy_6way"] * 48
        assert 0 <= round(correct) <= 48 and abs(correct - round(correct)) < 48 * 5e-5, report
        rows = read_manifest(run / f"round{r}" / "pseudo.jsonl")
        assert len(rows) == report["manifest_rows"]
        pool = {r["image"] for r in read_manifest(data / "manifests" / "cifar-pool.jsonl")}
        assert all(row["image"] in pool and row["group"].startswith("cifar:") for row in rows)
        assert all("label" not in row for row in rows)
    assert not (run / "control1" / "pseudo.jsonl").exists()


def test_report_table_and_plots(smoke) -> None:
    _, run, _, _ = smoke
    report = read_json(run / "report.json")
    assert [row["stage"] for row in report["stages"]][:3] == ["pretrain", "pretrain2", "round1"]
    for row in report["stages"]:
        # The stage's own evaluation, a share of its validation images.
        evaluation = read_json(run / row["stage"] / "eval.json")
        assert row["cifar6_acc"] == evaluation["cifar6_acc"], row
        correct = evaluation["cifar6_acc"] * evaluation["cifar6_val_images"]
        assert evaluation["cifar6_val_images"] > 0 and 0 <= round(correct) <= evaluation["cifar6_val_images"]
        assert abs(correct - round(correct)) < evaluation["cifar6_val_images"] * 5e-5, evaluation
    table = (run / "report.md").read_text()
    assert "| round3 |" in table and "| control3 |" in table
    for plot in ["loss.png", "cifar6_acc.png", "twitter_r-at-10.png"]:
        data = (run / "plots" / plot).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000, plot
    final = read_json(run / "final-eval.json")
    assert final["backend"] == "cerebro" and final["twitter_gallery"] == 18


def test_rerun_resumes_without_redoing_work(smoke) -> None:
    data, run, install, _ = smoke
    before = {p: p.stat().st_mtime_ns for p in run.glob("*/checkpoint.pt")}
    second = run_pipeline(data, run, install)
    assert "training" not in second and "pseudo-labelling" not in second
    assert {p: p.stat().st_mtime_ns for p in run.glob("*/checkpoint.pt")} == before


def test_rerun_with_another_recipe_is_refused(smoke) -> None:
    data, run, install, _ = smoke
    before = {p: p.stat().st_mtime_ns for p in run.glob("*/checkpoint.pt")}
    command = pipeline_command(data, run, install)
    command[command.index("--round-steps") + 1] = str(ROUND_STEPS + 1)
    result = subprocess.run(command, cwd=TRAINING, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "was started with other settings" in result.stderr, result.stderr[-2000:]
    assert f"--round-steps {ROUND_STEPS} -> {ROUND_STEPS + 1}" in result.stderr
    assert {p: p.stat().st_mtime_ns for p in run.glob("*/checkpoint.pt")} == before


def test_installed_bundle_runs_in_libcerebro(smoke) -> None:
    data, run, install, _ = smoke
    # The installed bundle is the last round's, calibrated: the same module, and the
    # relevance cutoff measured on the validation data written into its config (with so
    # few synthetic emoji only one store size: the slope stays the library's fallback).
    module, config, _ = load_bundle(install)
    round_module, round_config, _ = load_bundle(run / f"round{ROUNDS}" / "bundle.pt")
    assert install.read_bytes() == (run / "installed.pt").read_bytes()
    state, round_state = module.state_dict(), round_module.state_dict()
    assert state.keys() == round_state.keys()
    assert all(torch.equal(state[k], round_state[k]) for k in state)
    assert "relevance" not in round_config
    measured = read_json(install.parent / "figures" / "relevance.json")
    assert config["relevance"]["size_slope"] == measured["size_slope"] == 0.38
    assert config["relevance"]["threshold"] == measured["default"]
    assert {k: v for k, v in config.items() if k != "relevance"} == round_config
    assert (install.parent / "figures" / "relevance.png").stat().st_size > 0
    assert f"**{measured['default']:g}**" in (install.parent / "figures" / "relevance.md").read_text()
    assert (install.parent / "demo-queries.txt").read_text().startswith("# The demo's")
    assert read_json(run / "pipeline.json")["relevance"]["threshold"] == measured["default"]
    module, config, _ = load_bundle(install)
    assert config["name"] == f"smoke-round{ROUNDS}"
    assert config["architecture"]["kind"] == "clip_vit_convstem"
    # Provenance names manifests, never a folder of the machine that trained the model.
    training = config["provenance"]["training"]
    assert training["manifests"] == ["synthetic-shapes.jsonl", "cifar-seed.jsonl*2"], training
    assert training["extra"] == ["pseudo.jsonl"] and training["init"] == "round2/checkpoint.pt"
    assert str(data) not in json.dumps(training) and str(run) not in json.dumps(training)
    cerebro = import_cerebro()
    images = [r["image"] for r in read_manifest(data / "manifests" / "cifar-val.jsonl")]
    texts = ["a photo of a cat.", "red circle"]
    with cerebro.Model(str(install), threads=1, precision="fp32") as model:
        assert model.dim == config["embed_dim"]
        c_images, errors = model.encode_images(images, mode="exact")
        c_text = model.encode_text(texts)
    assert not errors
    # The same bundle in PyTorch, on the library's own preprocessing, agrees.
    with cerebro.Model(str(install), threads=1, precision="fp32") as model:
        pixels = np.stack([model.preprocess(p, mode="exact") for p in images])
        tokens = [model.tokenize(t) for t in texts]
    with torch.no_grad():
        t_images = module.encode_image(torch.from_numpy(pixels)).numpy()
        t_text = torch.cat([module.encode_text(torch.tensor([row])) for row in tokens]).numpy()

    def unit(x: np.ndarray) -> np.ndarray:
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    assert np.all(np.isfinite(c_images)) and np.all(np.isfinite(c_text))
    assert (unit(c_images) * unit(t_images)).sum(axis=1).min() > 0.999
    assert (unit(c_text) * unit(t_text)).sum(axis=1).min() > 0.999
