"""HTTP with retries: transient faults back off and retry, permanent ones fail at once.

Transient: connection errors, timeouts, HTTP 408, 429 and 5xx (except where a caller says a 5xx
carries a final answer, as HAPI's failed-job 500 does). ``Retry-After`` (seconds or HTTP date) is
honoured up to ``max_retry_after_s``. The clock and sleep are injectable so tests never wait.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from etl.config import ImportConfig
from etl.errors import PermanentLoadError, TransientLoadError

log = logging.getLogger(__name__)

TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}


def retry_after(response: httpx.Response, default: float, cap: float) -> float:
    """Seconds to wait as the server asks (``Retry-After``), within ``[0, cap]``."""
    value = response.headers.get("Retry-After")
    if not value:
        return min(default, cap)
    try:
        seconds = float(value)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        if parsed is None:
            return min(default, cap)
        seconds = (parsed - datetime.now(UTC)).total_seconds()
    return max(0.0, min(seconds, cap))


def outcome_text(response: httpx.Response) -> tuple[str, dict[str, Any] | None]:
    """The diagnostics of an OperationOutcome body (for error messages), and the body itself."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300], None
    if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome":
        texts = [i.get("diagnostics") or i.get("details", {}).get("text", "") for i in body.get("issue", [])]
        return "; ".join(t for t in texts if t)[:1000], body
    return str(body)[:300], body if isinstance(body, dict) else None


class Sender:
    """Sends requests through one httpx client with the job's retry policy."""

    def __init__(
        self,
        client: httpx.Client,
        config: ImportConfig,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.config = config
        self.sleep = sleep

    def send(self, method: str, url: str, *, final_status: frozenset[int] = frozenset(), **kwargs: Any) -> httpx.Response:
        """Send with retries; returns the first response that is not transient.

        ``final_status`` lists codes that end the request even if normally transient.
        """
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.client.request(method, url, **kwargs)
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                if attempt >= self.config.max_attempts:
                    raise TransientLoadError(f"{method} {url}: {type(exc).__name__} after {attempt} attempts") from exc
                wait = self._backoff(attempt)
                log.warning("%s %s: %s; retrying in %.1fs", method, url, type(exc).__name__, wait)
                self.sleep(wait)
                continue
            status = response.status_code
            if status in TRANSIENT_STATUS and status not in final_status:
                if attempt >= self.config.max_attempts:
                    text, outcome = outcome_text(response)
                    raise TransientLoadError(
                        f"{method} {url}: HTTP {status} after {attempt} attempts: {text}", status=status, outcome=outcome
                    )
                wait = retry_after(response, self._backoff(attempt), max(self.config.max_retry_after_s, 1.0))
                log.warning("%s %s: HTTP %d; retrying in %.1fs", method, url, status, wait)
                self.sleep(wait)
                continue
            return response

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt + 1``: exponential from ``backoff_base_s``, at most 60."""
        return self._backoff(attempt)

    def _backoff(self, attempt: int) -> float:
        return float(min(self.config.backoff_base_s * 2 ** (attempt - 1), 60.0))


def raise_for_permanent(response: httpx.Response, what: str) -> None:
    """Turn a 4xx (or any unexpected non-2xx) into :class:`PermanentLoadError` with the server's words."""
    if response.status_code < 400:
        return
    text, outcome = outcome_text(response)
    raise PermanentLoadError(f"{what}: HTTP {response.status_code}: {text}", status=response.status_code, outcome=outcome)
