"""libcerebro's Python binding (bindings/python), the way the pipeline talks to the C
library: pseudo-labelling and the export check run the bundle exactly as search does.

The binding finds the shared library through $CEREBRO_LIBRARY; when that is unset we
point it at the build the caller runs in (a CTest test's working folder is inside the
build tree: the nearest ancestor holding lib/libcerebro.so), else the first built one
in the repository (build-train/, build/, build-bind/)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import ModuleType
from typing import List, Optional

from .paths import REPO

BUILD_DIRS = ("build-train", "build", "build-bind")


def built_libraries() -> List[Path]:
    found = [folder / "lib" / "libcerebro.so" for folder in [Path.cwd(), *Path.cwd().parents]
             if (folder / "lib" / "libcerebro.so").is_file()][:1]
    return found + [REPO / d / "lib" / "libcerebro.so" for d in BUILD_DIRS
                    if (REPO / d / "lib" / "libcerebro.so").is_file()]


def import_cerebro(library: Optional[str] = None) -> ModuleType:
    """The `cerebro` module, with CEREBRO_LIBRARY set (argument, environment, or the
    repository's build). Raises ImportError saying what is missing."""
    if library:
        os.environ["CEREBRO_LIBRARY"] = str(library)
    elif not os.environ.get("CEREBRO_LIBRARY"):
        found = built_libraries()
        if not found:
            raise ImportError("libcerebro.so not found: build it (cmake -S . -B build-train && "
                              "make -C build-train) or set CEREBRO_LIBRARY")
        os.environ["CEREBRO_LIBRARY"] = str(found[0])
    bindings = REPO / "bindings" / "python"
    if str(bindings) not in sys.path:
        sys.path.insert(0, str(bindings))
    try:
        import cerebro
    except ImportError as err:
        raise ImportError(f"libcerebro's Python binding could not be imported from {bindings} "
                          f"(CEREBRO_LIBRARY={os.environ.get('CEREBRO_LIBRARY')}): {err}") from err
    return cerebro
