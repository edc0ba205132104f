"""``FHIRFLOW_NO_EXTENSIONS=1``: import every ``etl`` module from its ``.py`` file, ignoring the
mypyc-compiled extensions beside them (the way aiohttp's ``AIOHTTP_NO_EXTENSIONS`` works).

For telling whether a problem lies in the compiled build (run the same job both ways), and for
measuring what compiling gains (``bench/run.py``). The output is the same either way.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import (
    BYTECODE_SUFFIXES,
    SOURCE_SUFFIXES,
    FileFinder,
    ModuleSpec,
    SourceFileLoader,
    SourcelessFileLoader,
)
from types import ModuleType


class _SourceOnly(MetaPathFinder):
    """Finds ``etl.*`` modules as source (or bytecode) files only, never as extension modules."""

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None) -> ModuleSpec | None:
        if not fullname.startswith("etl.") or path is None:
            return None
        for entry in path:
            finder = FileFinder(entry, (SourceFileLoader, SOURCE_SUFFIXES), (SourcelessFileLoader, BYTECODE_SUFFIXES))
            spec = finder.find_spec(fullname, target)
            if spec is not None:
                return spec
        return None


def install() -> None:
    """Put the source-only finder first (once)."""
    if not any(isinstance(f, _SourceOnly) for f in sys.meta_path):
        sys.meta_path.insert(0, _SourceOnly())
