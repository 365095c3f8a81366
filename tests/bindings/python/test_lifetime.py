"""Handles are freed exactly once: by close(), by `with`, or by the garbage
collector; never while a call uses them; an Index keeps its Model alive."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

import cerebro
from cerebro._handle import Handle
from conftest import ROOT


class FakeLib:
    """Stands in for the CDLL: records frees and whether a call was running."""

    def __init__(self) -> None:
        self.freed: list[str] = []
        self.busy = 0

    def free_thing(self, ptr: str) -> None:
        assert self.busy == 0, f"{ptr} freed while in use"
        assert ptr not in self.freed, f"{ptr} freed twice"
        self.freed.append(ptr)


class Owner:
    def __init__(self, lib: FakeLib, name: str, holds: tuple[Handle, ...] = ()) -> None:
        self.handle = Handle(self, name, lib, "free_thing", name, holds)


def test_close_twice_frees_once() -> None:
    lib = FakeLib()
    o = Owner(lib, "a")
    o.handle.close()
    o.handle.close()
    del o
    gc.collect()
    assert lib.freed == ["a"]


def test_collection_frees_once() -> None:
    lib = FakeLib()
    for i in range(1000):
        o = Owner(lib, f"p{i}")
        if i % 3 == 0:
            o.cycle = o  # only the cycle collector can free this one
        del o
    gc.collect()
    assert sorted(lib.freed) == sorted(f"p{i}" for i in range(1000))


def test_use_after_close_raises() -> None:
    lib = FakeLib()
    o = Owner(lib, "a")
    o.handle.close()
    with pytest.raises(cerebro.InvalidError, match="a is closed"):
        with o.handle.use():
            pass


def test_close_during_a_call_waits_for_it() -> None:
    lib = FakeLib()
    o = Owner(lib, "a")
    with o.handle.use() as ptr:
        lib.busy += 1
        o.handle.close()
        assert lib.freed == [] and ptr == "a"
        lib.busy -= 1
    assert lib.freed == ["a"]


def test_a_holder_keeps_what_it_holds() -> None:
    for order in ("parent-first", "child-first", "collect"):
        lib = FakeLib()
        parent = Owner(lib, "model")
        child = Owner(lib, "index", holds=(parent.handle,))
        if order == "parent-first":
            parent.handle.close()
            assert lib.freed == []
            child.handle.close()
        elif order == "child-first":
            child.handle.close()
            assert lib.freed == ["index"]
            parent.handle.close()
        else:
            del parent, child
            gc.collect()
        assert lib.freed == ["index", "model"], order


def test_threads_using_while_one_closes() -> None:
    for round_ in range(50):
        lib = FakeLib()
        o = Owner(lib, f"h{round_}")
        lock = threading.Lock()
        start = threading.Barrier(5)

        def user() -> None:
            start.wait()
            for _ in range(200):
                try:
                    with o.handle.use():
                        with lock:
                            lib.busy += 1
                        with lock:
                            lib.busy -= 1
                except cerebro.InvalidError:
                    return

        def closer() -> None:
            start.wait()
            o.handle.close()

        threads = [threading.Thread(target=user) for _ in range(4)] + [threading.Thread(target=closer)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert lib.freed == [f"h{round_}"]


CHURN = textwrap.dedent("""
    import atexit, ctypes, gc, sys
    import cerebro
    from cerebro import _lib

    lib = _lib.lib()
    real_free = lib.cerebro_model_free
    live, frees = set(), []

    def addr(ptr):
        return ctypes.cast(ptr, ctypes.c_void_p).value

    def counting_free(ptr):
        a = addr(ptr)
        assert a in live, f"free of {a:#x}, which is not a live model"
        live.remove(a)
        frees.append(a)
        real_free(ptr)

    lib.cerebro_model_free = counting_free

    @atexit.register  # runs after weakref.finalize's exit hook
    def report():
        print(f"opened={opened} freed={len(frees)} live={len(live)}", flush=True)

    def open_():
        global opened
        m = cerebro.Model(sys.argv[1], threads=1)
        live.add(addr(m._handle._ptr))
        opened += 1
        return m

    opened = 0
    kept = []
    for i in range(int(sys.argv[2])):
        style = i % 5
        if style == 0:
            m = open_(); m.encode_text(["a"]); del m
        elif style == 1:
            m = open_(); m.close(); m.close(); del m
        elif style == 2:
            with open_() as m:
                m.tokenize("x")
            m.close()
            try:
                m.encode_text(["x"])
                raise SystemExit("a closed model encoded")
            except cerebro.InvalidError:
                pass
        elif style == 3:
            m = open_(); m.me = m; del m; gc.collect()
        else:
            kept.append(open_())  # freed at interpreter exit
    gc.collect()
    print(f"before-exit live={len(live)} kept={len(kept)}", flush=True)
""")


def test_many_create_drop_cycles_free_each_model_once(tiny: Path) -> None:
    env = dict(os.environ, MALLOC_CHECK_="3", PYTHONPATH=str(ROOT / "bindings" / "python"))
    r = subprocess.run([sys.executable, "-c", CHURN, str(tiny), "20"], env=env, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines == ["before-exit live=4 kept=4", "opened=20 freed=20 live=0"], r.stdout + r.stderr
