"""Publishing a load's NDJSON to object storage with pre-signed URLs (``import --publish
s3://bucket/prefix``), for servers that fetch over HTTPS but take no credential of ours (or when the
server cannot reach this machine at all).

The job's files (and, for dialects that pull a manifest, a Bulk Data manifest listing the files'
pre-signed URLs) are uploaded under ``prefix/<job>/``, where ``<job>`` is fresh per kick-off; each is
handed to the server as a pre-signed GET URL valid for ``presign_seconds`` (``--presign-seconds``,
default one hour: long enough for the server to fetch, short enough that a leaked URL soon stops
working). The objects are deleted once the job has ended (completed or failed); a job that is still
running when the load gives up keeps them, so a resumed load's server can still fetch.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from etl.errors import ConfigError
from etl.load.publish import NDJSON_TYPE
from etl.stage.remote import filesystem

log = logging.getLogger(__name__)


class PresignedPublisher:
    """``with PresignedPublisher(folder, files, "s3://b/p", 3600) as (prefix_url, urls):`` uploads
    ``files`` (paths relative to ``folder``); ``urls`` maps each to its pre-signed URL."""

    def __init__(self, folder: Path, files: list[str], url: str, presign_seconds: int,
                 documents: Callable[[dict[str, str]], dict[str, bytes]] | None = None) -> None:
        if presign_seconds < 60:
            raise ConfigError("--presign-seconds must be at least 60")
        self.folder, self.files, self.seconds, self.documents = folder, files, presign_seconds, documents
        # S3: Signature Version 4 pre-signing (X-Amz-Expires), which every AWS region accepts
        options = {"config_kwargs": {"signature_version": "s3v4"}} if url.startswith(("s3://", "s3a://")) else {}
        self.fs, root = filesystem(url, **options)
        if not hasattr(self.fs, "sign"):
            raise ConfigError(f"{url}: this storage cannot pre-sign URLs")
        self.job = f"{root.rstrip('/')}/job-{secrets.token_hex(8)}"
        self.url = f"{url.rstrip('/')}/{self.job.rsplit('/', 1)[1]}"
        self.keep = False
        self.urls: dict[str, str] = {}

    def _put(self, put: Callable[..., object], args: tuple[object, ...], content_type: str) -> None:
        """Upload with a Content-Type where the driver takes one (s3fs: ``ContentType``)."""
        if self.fs.protocol in ("s3", "s3a") or "s3" in (self.fs.protocol or ()):
            put(*args, ContentType=content_type)
        else:
            put(*args)

    def _sign(self, path: str) -> str:
        signed: Any = self.fs.sign(path, expiration=self.seconds)
        return str(signed)

    def __enter__(self) -> tuple[str, dict[str, str]]:
        for rel in self.files:
            target = f"{self.job}/{rel}"
            # HAPI refuses a fetched file unless its Content-Type is NDJSON/JSON/text
            self._put(self.fs.put_file, (str(self.folder / rel), target), NDJSON_TYPE)
            self.urls[rel] = self._sign(target)
        for name, body in (self.documents(self.urls) if self.documents else {}).items():
            self._put(self.fs.pipe_file, (f"{self.job}/{name}", body), "application/json")
            self.urls[name] = self._sign(f"{self.job}/{name}")
        log.info("published %d file(s) to %s, pre-signed for %ds", len(self.urls), self.url, self.seconds)
        return self.url, self.urls

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        from etl.errors import TransientLoadError

        if isinstance(ev, TransientLoadError) or self.keep:
            log.info("keeping %s: the job may still fetch it (resume the load)", self.url)
            return
        try:
            self.fs.rm(self.job, recursive=True)
        except OSError as exc:  # the load's outcome matters more than the clean-up
            log.warning("could not remove %s: %s", self.url, exc)
