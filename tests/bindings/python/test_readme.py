"""The example at the top of bindings/python/README.md runs as written,
against the tiny fixture model."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT


def snippet() -> str:
    text = (ROOT / "bindings" / "python" / "README.md").read_text()
    return re.search(r"```python\n(.*?)```", text, re.S).group(1)


def test_readme_example_runs(fixtures: Path, tmp_path: Path) -> None:
    code = snippet()
    assert len(code.strip().splitlines()) == 5, "the README promises a five-line example"
    (tmp_path / "tiny.pt").symlink_to(fixtures / "tiny.pt")
    shutil.copytree(fixtures / "photos", tmp_path / "photos")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "bindings" / "python"))
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert any(line.startswith("4/4 ") for line in lines), r.stdout
    hits = lines[-3:]
    assert all(re.fullmatch(r"-?\d\.\d{3} .*photo\d\.jpg", h) for h in hits), r.stdout
