"""Deterministic, PHI-free resource ids.

An id is ``HMAC-SHA256(salt, resourceType + key parts)`` cut to 32 hex characters (128 bits).
The same source identifiers give the same id on any machine with the same salt, so a re-load
upserts instead of duplicating; without the salt an id cannot be turned back into an MRN or
member id. FHIR ids allow ``[A-Za-z0-9\\-\\.]{1,64}``: hex digests fit.
"""

from __future__ import annotations

import hashlib
import hmac

_SEP = "\x1f"  # unit separator: cannot occur in the source identifiers we key on
_CACHE_SIZE = 1 << 14  # ids remembered per factory (providers, payers, patients recur across claims)


class IdFactory:
    """Makes resource ids from business keys (``ids.make("Patient", "MRN", "12345")``)."""

    def __init__(self, salt: str) -> None:
        self._key = salt.encode()
        # The keyed HMAC state, copied per id instead of re-deriving the key pads every time.
        self._hmac = hmac.new(self._key, digestmod=hashlib.sha256)
        self._cache: dict[str, str] = {}

    def make(self, resource_type: str, *key: object) -> str:
        """The id of a ``resource_type`` identified by ``key`` (None parts count as empty)."""
        text = _SEP.join([resource_type, *[k.strip() if type(k) is str else "" if k is None else str(k).strip()
                                           for k in key]])
        cache = self._cache
        rid = cache.get(text)
        if rid is None:
            h = self._hmac.copy()
            h.update(text.encode())
            rid = h.hexdigest()[:32]
            if len(cache) >= _CACHE_SIZE:
                cache.clear()
            cache[text] = rid
        return rid

    def ref(self, resource_type: str, *key: object) -> dict[str, str]:
        """A FHIR Reference to the resource ``make`` would name."""
        return reference(resource_type, self.make(resource_type, *key))


def reference(resource_type: str, resource_id: str, display: str | None = None) -> dict[str, str]:
    """A relative FHIR Reference (``{"reference": "Patient/abc"}``), resolvable after ``$import``."""
    ref = {"reference": f"{resource_type}/{resource_id}"}
    if display:
        ref["display"] = display
    return ref
