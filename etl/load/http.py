"""HTTP with retries: transient faults back off and retry, permanent ones fail at once.

Transient: connection errors, timeouts, HTTP 408, 429 and 5xx (except where a caller says a 5xx
carries a final answer, as HAPI's failed-job 500 does). ``Retry-After`` (seconds or HTTP date) is
honoured up to ``max_retry_after_s``. The retry loop is tenacity's (one policy, see :class:`Sender`).
The clock and sleep are injectable so tests never wait.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import tenacity

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


class _Transient(Exception):
    """One transient answer inside the retry loop: the response (if any) and what to say."""

    def __init__(self, what: str, response: httpx.Response | None = None) -> None:
        super().__init__(what)
        self.response = response


class Sender:
    """Sends requests through one httpx client with the job's retry policy.

    The policy (one, here, for every request of a load; tenacity does the looping): up to
    ``max_attempts`` tries; transient faults wait ``backoff_base_s * 2**(n-1)`` (at most 60 s) or the
    server's ``Retry-After`` (at most ``max_retry_after_s``), permanent ones return at once for the
    caller to raise. Airflow does not retry these faults again: the DAGs' load task has
    ``retries=0`` (a retried task would repeat every request's retries on top of these), and a
    cleared or re-run load resumes the job from its receipt (:mod:`etl.load.resume`).
    """

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
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.config.max_attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception_type(_Transient),
            sleep=self.sleep,
            before_sleep=lambda state: log.warning("%s %s: %s; retrying in %.1fs", method, url,
                                                   state.outcome.exception() if state.outcome else "",
                                                   state.next_action.sleep if state.next_action else 0.0),
            reraise=True,
        )
        attempts = 0
        try:
            for attempt in retrying:
                with attempt:
                    attempts += 1
                    return self._once(method, url, final_status, kwargs)
        except _Transient as exc:
            if exc.response is None:
                raise TransientLoadError(f"{method} {url}: {exc} after {attempts} attempts") from exc.__cause__
            text, outcome = outcome_text(exc.response)
            raise TransientLoadError(f"{method} {url}: HTTP {exc.response.status_code} after {attempts} attempts: {text}",
                                     status=exc.response.status_code, outcome=outcome) from None
        raise AssertionError("unreachable: tenacity either returned or raised")  # pragma: no cover

    def _once(self, method: str, url: str, final_status: frozenset[int], kwargs: dict[str, Any]) -> httpx.Response:
        try:
            response = self.client.request(method, url, **kwargs)
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            raise _Transient(type(exc).__name__) from exc
        if response.status_code in TRANSIENT_STATUS and response.status_code not in final_status:
            raise _Transient(f"HTTP {response.status_code}", response)
        return response

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt + 1``: exponential from ``backoff_base_s``, at most 60."""
        return float(min(self.config.backoff_base_s * 2 ** (attempt - 1), 60.0))

    def _wait(self, state: tenacity.RetryCallState) -> float:
        backoff = self.backoff(state.attempt_number)
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Transient) and exc.response is not None:
            return retry_after(exc.response, backoff, max(self.config.max_retry_after_s, 1.0))
        return backoff


def raise_for_permanent(response: httpx.Response, what: str) -> None:
    """Turn a 4xx (or any unexpected non-2xx) into :class:`PermanentLoadError` with the server's words."""
    if response.status_code < 400:
        return
    text, outcome = outcome_text(response)
    raise PermanentLoadError(f"{what}: HTTP {response.status_code}: {text}", status=response.status_code, outcome=outcome)
