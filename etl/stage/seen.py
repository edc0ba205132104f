"""The NDJSON sink's run-local index of written ids, in bounded memory (the supersede index).

For every resource id an output folder has received, the sink must know the last line it wrote for
that id: to skip an identical copy (the same Patient in every claim of a member) and to drop the
earlier line when a later unit carries a different version (an X12 replacement claim, CLM05-3 = 7;
an ADT^A08 update). A run can write millions of ids, so they cannot all stay in memory:

- the **recent** entries live in dicts, at most ``memory_ids`` of them (together with the dropped
  line positions not yet written out);
- when that many are held, all of them are **spilled** to a SQLite file beside the output (scratch:
  ``OUT/.staging/fhir/.seen.sqlite``, no journal, no fsync, deleted when the sink closes), sorted by
  key so the B-tree is written in order, and memory starts empty again;
- a fixed-size **Bloom filter** (``bloom_bits`` bits, 8 MiB by default) records every spilled key,
  so an id never seen before (every new Claim) costs no SQLite look-up; a false positive only costs
  one look-up that finds nothing. A key found in SQLite comes back into memory, so a recurring id
  is looked up once per spill at most.

Keys are exact (see :func:`key`), in memory and on disk: a fhirflow id is stored as its 16 bytes
(a BLOB), any other id as its text (TEXT), and SQLite never takes a BLOB for a TEXT. So two ids are
never taken for one, and no claim is ever dropped as "superseded" by another claim's id.

Nothing here grows with the run but the SQLite file: memory is ``memory_ids`` entries, the Bloom
filter, and SQLite's page cache (:data:`_CACHE_KIB`).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from etl.errors import StageError

IdKey = int | str
# The last line written for an id: (hash of the line, part number, byte offset of the line in it).
Entry = tuple[int, int, int]

MEMORY_IDS = 100_000  # entries held in memory before a spill: ~20 MB of dicts
BLOOM_BITS = 1 << 26  # 8 MiB; at 10 million spilled ids a look-up is a false positive ~4% of the time
_BLOOM_HASHES = 4
_CACHE_KIB = 8 * 1024  # SQLite page cache (its default is 2 MiB)

# fhirflow's own ids (etl.fhir.ids): 32 lower-case hex digits, i.e. a 128-bit number.
_HEX_ID = re.compile(r"[0-9a-f]{32}")

_SCHEMA = (
    # k has no declared type, so SQLite stores bytes as BLOB and str as TEXT, as given (no affinity).
    "CREATE TABLE seen (t INTEGER NOT NULL, k NOT NULL, h INTEGER NOT NULL, part INTEGER NOT NULL,"
    " off INTEGER NOT NULL, PRIMARY KEY (t, k)) WITHOUT ROWID",
    "CREATE TABLE dropped (t INTEGER NOT NULL, part INTEGER NOT NULL, off INTEGER NOT NULL,"
    " PRIMARY KEY (t, part, off)) WITHOUT ROWID",
)
_GET = "SELECT h, part, off FROM seen WHERE t = ? AND k = ?"
_PUT = "INSERT OR REPLACE INTO seen VALUES (?, ?, ?, ?, ?)"
_DROP = "INSERT INTO dropped VALUES (?, ?, ?)"
_DROPPED = "SELECT part, off FROM dropped WHERE t = ? ORDER BY part, off"


def key(resource_id: str) -> IdKey:
    """The index key of an id: exact, so two different ids can never be taken for one (a hash
    collision would drop a claim as "superseded"). A fhirflow id becomes its 128-bit number (an
    int: about half the memory of the string); any other id stays whole."""
    if len(resource_id) == 32 and _HEX_ID.fullmatch(resource_id):
        return int(resource_id, 16)
    return resource_id


def _db_key(k: IdKey) -> bytes | str:
    """The SQLite value of a key: 16 bytes (BLOB) for a fhirflow id, the text (TEXT) otherwise."""
    if isinstance(k, int):
        return k.to_bytes(16, "big")
    return k


class SeenIndex:
    """Last line written per (type, id), and the positions of lines superseded since.

    Types are small numbers handed out by :meth:`add_type`. :attr:`held` is what memory holds
    now; it never reaches ``memory_ids`` after a call returns.
    """

    def __init__(self, path: Path, memory_ids: int = MEMORY_IDS, bloom_bits: int = BLOOM_BITS) -> None:
        if memory_ids < 1:
            raise ValueError("memory_ids must be at least 1")
        if bloom_bits < 64 or bloom_bits & (bloom_bits - 1):
            raise ValueError("bloom_bits must be a power of two, at least 64")
        self.path = path
        self.memory_ids = memory_ids
        self.spills = 0
        self._mask = bloom_bits - 1
        self._bloom = bytearray()  # allocated at the first spill: a run that never spills pays nothing
        self._recent: list[dict[IdKey, Entry]] = []  # per type
        self._drops: list[tuple[int, int, int]] = []  # (type, part, offset) of superseded lines
        self._held = 0
        self._db: sqlite3.Connection | None = None

    @property
    def held(self) -> int:
        """Entries in memory: recent ids plus superseded positions not yet spilled."""
        return self._held

    def add_type(self) -> int:
        self._recent.append({})
        return len(self._recent) - 1

    def get(self, t: int, k: IdKey) -> Entry | None:
        """The last line written for ``k`` of type ``t``, or None if there was none."""
        found = self._recent[t].get(k)
        if found is not None or self._db is None or not self._maybe_spilled(k):
            return found
        try:
            row = self._db.execute(_GET, (t, _db_key(k))).fetchone()
        except sqlite3.Error as exc:
            raise StageError(f"cannot read the supersede index {self.path}: {exc}") from exc
        if row is None:  # a Bloom false positive
            return None
        entry: Entry = (row[0], row[1], row[2])
        self.put(t, k, entry)  # a recurring id: found in memory next time
        return entry

    def put(self, t: int, k: IdKey, entry: Entry) -> None:
        """Record ``entry`` as the last line written for ``k``."""
        recent = self._recent[t]
        before = len(recent)
        recent[k] = entry
        self._held += len(recent) - before
        if self._held >= self.memory_ids:
            self._spill()

    def drop(self, t: int, part: int, offset: int) -> None:
        """Remember that the line at ``offset`` of part ``part`` is superseded."""
        self._drops.append((t, part, offset))
        self._held += 1
        if self._held >= self.memory_ids:
            self._spill()

    def dropped(self, t: int) -> Iterator[tuple[int, int]]:
        """Every superseded (part, offset) of type ``t``, in file order; streamed from disk once
        anything was spilled."""
        if self._db is None:
            yield from sorted((part, off) for tt, part, off in self._drops if tt == t)
            return
        if self._drops:
            self._spill()
        try:
            yield from self._db.execute(_DROPPED, (t,))
        except sqlite3.Error as exc:
            raise StageError(f"cannot read the supersede index {self.path}: {exc}") from exc

    def close(self) -> None:
        """Forget everything and delete the SQLite file."""
        if self._db is not None:
            self._db.close()
            self._db = None
            self.path.unlink(missing_ok=True)
        self._recent = [{} for _ in self._recent]
        self._drops = []
        self._bloom = bytearray()
        self._held = 0

    def _bloom_slots(self, k: IdKey) -> tuple[int, int]:
        # Double hashing (Kirsch-Mitzenmacher): slot j is a + j*b. hash() of a fhirflow id's number is
        # uniform over 61 bits (the id is an HMAC), of a str over 64: a from the low bits, b higher.
        x = hash(k)
        return x & self._mask, ((x >> 32) & self._mask) | 1

    def _maybe_spilled(self, k: IdKey) -> bool:
        a, b = self._bloom_slots(k)
        bloom, mask = self._bloom, self._mask
        for j in range(_BLOOM_HASHES):
            i = (a + j * b) & mask
            if not bloom[i >> 3] & (1 << (i & 7)):
                return False
        return True

    def _remember(self, k: IdKey) -> None:
        a, b = self._bloom_slots(k)
        bloom, mask = self._bloom, self._mask
        for j in range(_BLOOM_HASHES):
            i = (a + j * b) & mask
            bloom[i >> 3] |= 1 << (i & 7)

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.unlink(missing_ok=True)
            db = sqlite3.connect(self.path, isolation_level=None)
            # Scratch for this run only: a crash loses nothing the next run needs (it starts afresh).
            for pragma in ("journal_mode = OFF", "synchronous = OFF", "locking_mode = EXCLUSIVE",
                           f"cache_size = -{_CACHE_KIB}", "temp_store = FILE"):
                db.execute(f"PRAGMA {pragma}")
            for ddl in _SCHEMA:
                db.execute(ddl)
        except (sqlite3.Error, OSError) as exc:
            raise StageError(f"cannot create the supersede index {self.path}: {exc}") from exc
        self._bloom = bytearray((self._mask + 1) >> 3)
        self._db = db
        return db

    def _spill(self) -> None:
        """Write every entry held in memory to SQLite, and empty memory."""
        db = self._db if self._db is not None else self._open()
        try:
            db.execute("BEGIN")
            for t, recent in enumerate(self._recent):
                if recent:
                    db.executemany(_PUT, self._rows(t, recent))
                    recent.clear()
            if self._drops:
                self._drops.sort()
                db.executemany(_DROP, self._drops)
                self._drops = []
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StageError(f"cannot write the supersede index {self.path}: {exc}") from exc
        self._held = 0
        self.spills += 1

    def _rows(self, t: int, recent: dict[IdKey, Entry]) -> Iterator[tuple[int, bytes | str, int, int, int]]:
        # In the table's own order (TEXT keys before BLOB keys, each ascending), so SQLite appends
        # to its B-tree pages in order instead of touching a random page per row.
        for text in sorted(k for k in recent if isinstance(k, str)):
            yield self._row(t, text, recent[text])
        for number in sorted(k for k in recent if isinstance(k, int)):
            yield self._row(t, number, recent[number])

    def _row(self, t: int, k: IdKey, entry: Entry) -> tuple[int, bytes | str, int, int, int]:
        self._remember(k)
        return t, _db_key(k), entry[0], entry[1], entry[2]
