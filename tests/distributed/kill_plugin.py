"""A Dask worker plugin for tests/distributed: the worker process that gets
the batch holding `trigger` kills itself with SIGKILL in the middle of that
task, once (a marker file, on storage every worker sees, records it), so a
test can kill a worker mid-task at a known point. Importable by the workers
(tests/distributed is on their PYTHONPATH)."""

from __future__ import annotations

import os
import signal
from typing import Any

from distributed import WorkerPlugin


class KillOnce(WorkerPlugin):
    name = "cerebro-test-kill-once"

    def __init__(self, trigger: str, marker: str) -> None:
        self.trigger = trigger
        self.marker = marker

    def setup(self, worker: Any = None) -> None:
        # Model.encode_images is looked up at each call (the task function
        # itself may come from the worker's cache of deserialised functions).
        from cerebro.model import Model
        original = getattr(Model.encode_images, "original", Model.encode_images)
        trigger, marker = self.trigger, self.marker

        def encode_images(model: Any, paths: Any, *args: Any, **kwargs: Any) -> Any:
            if trigger in [os.fsdecode(p) for p in paths] and not os.path.exists(marker):
                with open(marker, "w") as f:
                    f.write(str(os.getpid()))
                os.kill(os.getpid(), signal.SIGKILL)
            return original(model, paths, *args, **kwargs)

        encode_images.original = original  # type: ignore[attr-defined]
        Model.encode_images = encode_images  # type: ignore[method-assign]
