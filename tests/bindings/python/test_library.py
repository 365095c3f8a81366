"""The loader, the version check, and the declarations against the header."""

from __future__ import annotations

import ctypes
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import cerebro
from cerebro import _lib
from conftest import ROOT, c_compiler

HEADER = ROOT / "include" / "cerebro" / "cerebro.h"
PACKAGE = ROOT / "bindings" / "python"


def header_text() -> str:
    return HEADER.read_text()


def layout(tmp_path: Path) -> dict:
    probe = os.environ.get("CEREBRO_LAYOUT_PROBE")
    if not probe:
        probe = str(tmp_path / "layout")
        subprocess.run([c_compiler(), "-std=c99", f"-I{ROOT / 'include'}",
                        str(ROOT / "tests" / "bindings" / "layout.c"), "-o", probe], check=True)
    return json.loads(subprocess.run([probe], check=True, capture_output=True, text=True).stdout)


def test_version_matches_header() -> None:
    macros = dict(re.findall(r"#define CEREBRO_VERSION_(MAJOR|MINOR|PATCH) (\d+)", header_text()))
    assert (_lib.VERSION_MAJOR, _lib.VERSION_MINOR, _lib.VERSION_PATCH) == (
        int(macros["MAJOR"]), int(macros["MINOR"]), int(macros["PATCH"]))
    assert cerebro.library_version() == re.search(r'CEREBRO_VERSION_STRING "([^"]+)"',
                                                  header_text()).group(1)
    assert _lib.lib().cerebro_version_number() // 10000 == _lib.VERSION_MAJOR


def test_every_header_function_is_declared() -> None:
    declared = set(re.findall(r"CEREBRO_API\s+[^;(]*?\b(cerebro_\w+)\s*\(", header_text()))
    assert len(declared) > 50
    assert declared == set(_lib._PROTOTYPES)


def test_structs_mirror_the_header(tmp_path: Path) -> None:
    probe = layout(tmp_path)
    assert set(probe["structs"]) == set(_lib.STRUCTS)
    for name, c in probe["structs"].items():
        py = _lib.STRUCTS[name]
        assert ctypes.sizeof(py) == c["size"], name
        offsets = {f: getattr(py, f).offset for f, *_ in py._fields_}
        assert offsets == c["fields"], name


def test_constants_mirror_the_header(tmp_path: Path) -> None:
    c = layout(tmp_path)["constants"]
    assert _lib.PREPROCESS_MODES == {"exact": c["CEREBRO_PREPROCESS_EXACT"],
                                     "fast": c["CEREBRO_PREPROCESS_FAST"]}
    assert _lib.PRECISIONS == {"auto": c["CEREBRO_PRECISION_AUTO"], "fp32": c["CEREBRO_PRECISION_FP32"],
                               "bf16": c["CEREBRO_PRECISION_BF16"]}
    assert (_lib.INDEX_CREATE, _lib.INDEX_READONLY) == (c["CEREBRO_INDEX_CREATE"],
                                                        c["CEREBRO_INDEX_READONLY"])
    assert (_lib.ADD_NO_RECURSE, _lib.ADD_HIDDEN, _lib.ADD_FOLLOW_SYMLINKS, _lib.ADD_NO_VIDEO) == (
        c["CEREBRO_ADD_NO_RECURSE"], c["CEREBRO_ADD_HIDDEN"], c["CEREBRO_ADD_FOLLOW_SYMLINKS"],
        c["CEREBRO_ADD_NO_VIDEO"])
    assert _lib.MAX_K == c["CEREBRO_MAX_K"]
    assert (_lib.ITEM_IMAGE, _lib.ITEM_VIDEO_FRAME) == (c["CEREBRO_ITEM_IMAGE"], c["CEREBRO_ITEM_VIDEO_FRAME"])
    statuses = {k[len("CEREBRO_"):]: v for k, v in c.items()
                if k == "CEREBRO_OK" or k.startswith("CEREBRO_E_")}
    assert {s.name: int(s) for s in cerebro.Status} == statuses


def test_every_status_has_its_error_class() -> None:
    from cerebro.errors import error_for
    seen = set()
    for status in cerebro.Status:
        if status == cerebro.Status.OK:
            continue
        e = error_for(status, "detail")
        assert isinstance(e, cerebro.Error) and e.status == status and e.message == "detail"
        assert type(e) is not cerebro.Error and type(e) not in seen
        assert e.code == "CEREBRO_" + status.name
        seen.add(type(e))
        # The library's own name for the status agrees.
        assert _lib.lib().cerebro_status_string(status).decode().startswith(e.code)
    unknown = error_for(-999, "")
    assert type(unknown) is cerebro.Error and unknown.status == -999


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k != "CEREBRO_LIBRARY"}
    full.update(env, PYTHONPATH=str(PACKAGE))
    return subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True)


def fake_library(tmp_path: Path, body: str) -> Path:
    src, out = tmp_path / "fake.c", tmp_path / "libfake.so"
    src.write_text(body)
    subprocess.run([c_compiler(), "-shared", "-fPIC", str(src), "-o", str(out)], check=True)
    return out


def test_refuses_another_major_version(tmp_path: Path) -> None:
    fake = fake_library(tmp_path, "unsigned cerebro_version_number(void) { return 10203; }\n")
    r = run_python("import cerebro; cerebro.library_version()", CEREBRO_LIBRARY=str(fake))
    assert r.returncode != 0
    assert "cerebro.errors.LibraryError" in r.stderr
    assert "libcerebro 1.2.3" in r.stderr and "major version 0" in r.stderr


def test_refuses_a_library_that_is_not_libcerebro(tmp_path: Path) -> None:
    fake = fake_library(tmp_path, "int something_else(void) { return 0; }\n")
    r = run_python("import cerebro; cerebro.library_version()", CEREBRO_LIBRARY=str(fake))
    assert r.returncode != 0 and "is not libcerebro" in r.stderr


def test_explicit_path_that_does_not_load_is_an_error() -> None:
    r = run_python("import cerebro; cerebro.library_version()",
                   CEREBRO_LIBRARY="/nonexistent/libcerebro.so")
    assert r.returncode != 0
    assert "LibraryError" in r.stderr and "CEREBRO_LIBRARY" in r.stderr
    assert "/nonexistent/libcerebro.so" in r.stderr


def test_finds_the_library_in_the_package_directory(tmp_path: Path) -> None:
    real = _lib.lib()._name
    pkg = tmp_path / "site" / "cerebro"
    pkg.parent.mkdir()
    import shutil
    shutil.copytree(PACKAGE / "cerebro", pkg, ignore=shutil.ignore_patterns("__pycache__"))
    (pkg / "libcerebro.so").symlink_to(real)
    full = {k: v for k, v in os.environ.items() if k != "CEREBRO_LIBRARY"}
    full["PYTHONPATH"] = str(pkg.parent)
    r = subprocess.run([sys.executable, "-c", "import cerebro; print(cerebro.library_path()); "
                        "print(cerebro.library_version())"], env=full, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [str(pkg / "libcerebro.so"), cerebro.library_version()]
