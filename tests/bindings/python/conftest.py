"""Fixtures for the Python binding tests.

CTest sets CEREBRO_LIBRARY (the built libcerebro), CEREBRO_MODEL_FIXTURES
(tests/model's fixture directory), CEREBRO_LAYOUT_PROBE and
CEREBRO_PREPROCESS (the cerebro-preprocess example). Run by hand, the model
fixtures are generated into a temporary directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "bindings" / "python"))

import cerebro  # noqa: E402

# CLIP's merges: the checkout's copy (third_party/clip), or $CEREBRO_MERGES.
MERGES = Path(os.environ.get("CEREBRO_MERGES")
              or ROOT / "third_party" / "clip" / "bpe_simple_vocab_16e6.txt.gz")


@pytest.fixture(scope="session")
def fixtures(tmp_path_factory: pytest.TempPathFactory) -> Path:
    env = os.environ.get("CEREBRO_MODEL_FIXTURES")
    if env:
        path = Path(env)
        assert (path / "tiny.pt").is_file(), f"CEREBRO_MODEL_FIXTURES={env} has no tiny.pt"
        return path
    out = tmp_path_factory.mktemp("model-fixtures")
    subprocess.run([sys.executable, str(ROOT / "tests" / "model" / "gen_model_fixtures.py"),
                    str(out), "--no-vitb32"], check=True, stdout=subprocess.DEVNULL)
    return out


@pytest.fixture(scope="session")
def tiny(fixtures: Path) -> Path:
    return fixtures / "tiny.pt"


@pytest.fixture(scope="session")
def photos(fixtures: Path) -> list[Path]:
    found = sorted((fixtures / "photos").glob("*.jpg"))
    assert len(found) >= 3, f"no photos in {fixtures / 'photos'}"
    return found


@pytest.fixture(scope="session")
def model(tiny: Path) -> cerebro.Model:
    m = cerebro.Model(tiny, precision="fp32")  # the reference; "auto" may pick bf16
    yield m
    m.close()


def built_tool(env: str, name: str) -> str:
    """A program built with the project: from CTest's env, else the default build."""
    path = os.environ.get(env) or shutil.which(name) or str(ROOT / "build" / "examples" / name)
    if not os.access(path, os.X_OK):
        pytest.fail(f"{name} not built (set {env}): build the project's examples first")
    return path


def c_compiler() -> str:
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.fail("no C compiler to build the probe library")
    return cc
