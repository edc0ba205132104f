"""Build hook: compile the hot modules named in pyproject ``[tool.fhirflow] native`` with mypyc.

Everything else about the package is declared in pyproject.toml. mypyc turns the type-annotated
modules into C extensions (X12 converts ~1.8x faster, HL7 v2 ~1.5x); the ``.py`` files stay the
source of truth, and without a compiled module Python simply imports the ``.py`` one.

- ``pip install .`` / a wheel build compiles (needs a C compiler and the Python headers).
- ``FHIRFLOW_COMPILE=0`` builds pure Python. The Makefile installs the editable package that way
  and compiles in place as its own step (``make native``: ``python setup.py build_ext --inplace``),
  so that a changed source is recompiled before tests, demo or bench run.
"""

from __future__ import annotations

import os
import shutil
import tomllib
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildPyWithViews(build_py):
    """Put ``schemas/views`` (the columns of every Parquet table) into the package as
    ``etl/schemas/views``: an installed fhirflow has no source tree with ``schemas/`` beside ``etl/``.
    An editable install reads them from the source tree (``etl/stage/views.py``)."""

    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "etl" / "schemas" / "views"
        target.mkdir(parents=True, exist_ok=True)
        for view in sorted((ROOT / "schemas" / "views").glob("*.json")):
            shutil.copyfile(view, target / view.name)


def native_modules() -> list[str]:
    with open(ROOT / "pyproject.toml", "rb") as fh:
        return list(tomllib.load(fh)["tool"]["fhirflow"]["native"])


def ext_modules() -> list[object]:
    if os.environ.get("FHIRFLOW_COMPILE", "1") == "0":
        return []
    from mypyc.build import mypycify

    # One shared library (etl/_native__mypyc) inside the package, so that no top-level module is
    # added; calls between compiled modules then stay native.
    return list(mypycify(native_modules(), opt_level="3", group_name="etl._native"))


setup(ext_modules=ext_modules(), cmdclass={"build_py": BuildPyWithViews})
