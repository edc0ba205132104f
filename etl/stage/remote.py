"""Inputs and outputs on object storage through fsspec (``s3://``, ``gs://``, ``az://``, ``sftp://``,
``file://``): ``fhirflow convert s3://in/… -o s3://out/run``.

The converter works on local files (streaming parsers, atomic renames), so remote inputs are
downloaded into a scratch folder first and a remote output is built locally, then uploaded.
Object stores have no rename, so the upload is made atomic the way the local output is (see
:mod:`etl.stage.output`): every file of the run goes under a new generation prefix,
``OUT/generations/<id>/…`` (``manifest.json`` last), and only then is the pointer object
``OUT/CURRENT`` (``{"generation": id, "manifest": "generations/<id>/manifest.json"}``) written,
a single PUT. A reader that reads ``CURRENT`` first sees either the previous generation or the new
one, whole; an upload that dies half-way leaves an unreferenced prefix, never a mixed output.
Credentials and endpoints come from the storage driver's usual settings (for S3: the AWS
environment variables or profile, ``AWS_ENDPOINT_URL`` for S3-compatible servers).
"""

from __future__ import annotations

import json
import logging
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fsspec

from etl.errors import ConfigError
from etl.stage.manifest import MANIFEST
from etl.stage.output import current_generation

log = logging.getLogger(__name__)

POINTER = "CURRENT"


def is_remote(location: str | Path) -> bool:
    """True for ``scheme://…`` locations other than local files."""
    text = str(location)
    return "://" in text and not text.startswith("file://")


def local(location: str) -> Path:
    """A ``file://`` URL or a plain path as a Path."""
    return Path(location[len("file://"):]) if location.startswith("file://") else Path(location)


def filesystem(url: str, **options: Any) -> tuple[Any, str]:
    """(fsspec filesystem, path within it) of ``url``; a missing driver is a usage error."""
    try:
        fs, path = fsspec.core.url_to_fs(url, **options)
    except (ImportError, ValueError) as exc:
        raise ConfigError(f"cannot open {url}: {exc} (S3 needs `pip install fhirflow[s3]`)") from exc
    return fs, str(path)


def download_inputs(urls: list[str], scratch: Path) -> list[Path]:
    """Copy each remote input (a file, or a folder/prefix with everything below it) into
    ``scratch``; the local paths, in the given order."""
    paths = []
    for n, url in enumerate(urls):
        fs, path = filesystem(url)
        target = scratch / f"in-{n:03d}"
        if fs.isdir(path):
            fs.get(path.rstrip("/") + "/", str(target) + "/", recursive=True)
        elif fs.exists(path):
            target.mkdir(parents=True)
            target = target / Path(path).name
            fs.get(path, str(target))
        else:
            raise ConfigError(f"no such input: {url}")
        log.info("downloaded %s", url)
        paths.append(target)
    return paths


def upload_output(local_out: Path, url: str) -> str:
    """Upload the current generation of ``local_out`` under ``url`` (see the module doc); returns
    the generation's URL."""
    fs, root = filesystem(url)
    root = root.rstrip("/")
    gen = current_generation(local_out)
    gen_id = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    prefix = f"{root}/generations/{gen_id}"
    files = sorted(p for p in gen.rglob("*") if p.is_file() and p.name != MANIFEST)
    for p in files:
        fs.put_file(str(p), f"{prefix}/{p.relative_to(gen).as_posix()}")
    fs.put_file(str(gen / MANIFEST), f"{prefix}/{MANIFEST}")  # the generation is whole once its manifest is there
    pointer = {"generation": gen_id, "manifest": f"generations/{gen_id}/{MANIFEST}"}
    fs.pipe_file(f"{root}/{POINTER}", json.dumps(pointer).encode())  # one PUT: the switch
    log.info("published %d file(s) to %s/generations/%s", len(files) + 1, url.rstrip("/"), gen_id)
    return f"{url.rstrip('/')}/generations/{gen_id}"


def read_pointer(url: str) -> dict[str, str]:
    """The ``CURRENT`` pointer of a remote output."""
    fs, root = filesystem(url)
    return dict(json.loads(fs.cat_file(f"{root.rstrip('/')}/{POINTER}")))
