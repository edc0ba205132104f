"""MLLP (HL7 v2 Minimal Lower Layer Protocol, HL7 v2.5.1 Appendix C): a listener that lands
messages for the ``hl7v2_batches`` DAG, and a sender that checks the acknowledgements.

Each message arrives framed as ``0x0B <message> 0x1C 0x0D``. The listener answers each with an
original-mode ACK whose MSA-1 is ``AA`` (stored), ``AE`` (the frame is no HL7 v2 message: not
stored) or ``AR`` (it could not be stored: try again), and it acknowledges only after the message
is durably written: appended to the current batch file under ``<landing>/.mllp/`` and fsynced.
A batch is published by an atomic rename into the landing folder once it holds ``max_messages``
or is ``max_age`` seconds old (``landing/<name>.hl7``: what the DAG claims; hidden files are left
alone by it), and when the listener stops.

No acknowledged message is lost or stored twice:

- messages are written framed, so a batch file cut by a crash mid-write is recovered on the next
  start up to its last end block (what follows was never acknowledged: the sender sends it again);
- a message already stored (same MSH-3, MSH-4 and MSH-10) is acknowledged again without being
  stored again: what a sender does when the listener stored a message but died before its ACK
  went out. The listener remembers the keys of this run and of the batches still in the landing
  folder (recovered or not yet claimed by the DAG).

Logs name counts, peers and files, never message content (no PHI).
"""

from __future__ import annotations

import logging
import os
import socket
import socketserver
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from etl.errors import ParseError
from etl.sources.hl7v2.model import Message
from etl.sources.hl7v2.parse import Lines

log = logging.getLogger(__name__)

SB, EB, CR = b"\x0b", b"\x1c", b"\r"
END = EB + CR
MAX_FRAME = 64 << 20  # a message larger than this is refused (AE) and the connection closed
_SEEN_LIMIT = 1_000_000  # keys of stored messages remembered (oldest forgotten first)


# --- framing and acknowledgements ------------------------------------------------------------------

class FrameReader:
    """Splits a byte stream into MLLP frames; bytes outside a frame are skipped."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        frames: list[bytes] = []
        while True:
            start = self._buf.find(SB)
            if start < 0:
                self._buf.clear()
                return frames
            end = self._buf.find(END, start + 1)
            if end < 0:
                del self._buf[:start]
                if len(self._buf) > MAX_FRAME:
                    raise ValueError("MLLP frame larger than the limit")
                return frames
            frames.append(bytes(self._buf[start + 1:end]))
            del self._buf[:end + 2]

    @property
    def pending(self) -> bool:
        """True when a frame has started but not ended (what a client cut off leaves)."""
        return SB in self._buf


def frame(message: bytes) -> bytes:
    return SB + message + END


def segments_of(message: bytes) -> list[str]:
    text = message.decode("utf-8", errors="replace")
    return [s for s in text.replace("\r\n", "\r").replace("\n", "\r").split("\r") if s.strip()]


def ack(message: bytes, code: str, text: str = "", control: str = "") -> bytes:
    """An original-mode ACK (MSH + MSA) to ``message``; its fields are echoed where they parse."""
    segs = segments_of(message)
    msh = segs[0] if segs and segs[0].startswith("MSH") and len(segs[0]) > 8 else "MSH|^~\\&"
    sep = msh[3]
    f = msh.split(sep)

    def get(i: int) -> str:  # MSH-n is f[n - 1]
        return f[i] if len(f) > i else ""

    mtype = get(8).split(get(1)[:1] or "^")
    trigger = mtype[1] if len(mtype) > 1 else ""
    now = datetime.now(UTC).strftime("%Y%m%d%H%M%S+0000")
    control = control or f"ACK{time.time_ns()}"
    header = sep.join(["MSH", get(1) or "^~\\&", get(4), get(5), get(2), get(3), now, "",
                       f"ACK^{trigger}^ACK" if trigger else "ACK", control, get(10) or "P", get(11) or "2.5.1"])
    msa = sep.join(["MSA", code, get(9)] + ([text.replace(sep, " ")] if text else []))
    return frame((header + "\r" + msa + "\r").encode("utf-8"))


def parse_ack(message: bytes) -> tuple[str, str]:
    """(MSA-1, MSA-2) of an ACK; ('', '') when it has no MSA."""
    for seg in segments_of(message):
        if seg.startswith("MSA") and len(seg) > 3:
            parts = seg.split(seg[3])
            return (parts[1] if len(parts) > 1 else "", parts[2] if len(parts) > 2 else "")
    return ("", "")


def message_key(msg: Message) -> tuple[str, str, str] | None:
    """(MSH-3, MSH-4, MSH-10): what identifies a message of a sender; None without MSH-10."""
    control = msg.control_id
    return (msg.get("MSH-3.1"), msg.get("MSH-4.1"), control) if control else None


def _key_of(message: bytes) -> tuple[str, str, str] | None:
    try:
        return message_key(Message(segments_of(message)))
    except ParseError:
        return None


# --- the landing store ---------------------------------------------------------------------------

def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _frames_of_file(data: bytes) -> Iterator[bytes]:
    reader = FrameReader()
    yield from reader.feed(data)


class BatchStore:
    """Durable append of messages into rotated batch files of a landing folder (see module doc)."""

    def __init__(self, landing: Path, *, max_messages: int = 1000, max_age: float = 60.0) -> None:
        self.landing = landing
        self.incoming = landing / ".mllp"
        self.max_messages = max_messages
        self.max_age = max_age
        self.lock = threading.Lock()
        self.seen: OrderedDict[tuple[str, str, str], None] = OrderedDict()
        self._fh: int | None = None
        self._part: Path | None = None
        self._count = 0
        self._opened = 0.0
        self._seq = 0
        self.published: list[Path] = []
        self.incoming.mkdir(parents=True, exist_ok=True)
        self._recover()

    def _remember(self, key: tuple[str, str, str] | None) -> None:
        if key is None:
            return
        self.seen[key] = None
        if len(self.seen) > _SEEN_LIMIT:
            self.seen.popitem(last=False)

    def _recover(self) -> None:
        """Batches a killed listener left: cut after their last whole frame, then published."""
        for part in sorted(self.incoming.glob("*.part")):
            data = part.read_bytes()
            keep = data.rfind(END) + len(END) if END in data else 0
            if keep < len(data):
                log.warning("mllp: %s ends in a message cut off by a stop (never acknowledged): dropped "
                            "%d byte(s) of it", part.name, len(data) - keep)
                with open(part, "r+b") as fh:
                    fh.truncate(keep)
                    fh.flush()
                    os.fsync(fh.fileno())
            if keep == 0:
                part.unlink()
                continue
            self._publish(part)
        for done in sorted(self.landing.glob("mllp-*.hl7")):  # not yet claimed by the DAG
            for message in _frames_of_file(done.read_bytes()):
                self._remember(_key_of(message))

    def _publish(self, part: Path) -> None:
        final = self.landing / part.name.removeprefix(".").removesuffix(".part")
        os.replace(part, final)
        _fsync_dir(self.landing)
        self.published.append(final)
        log.info("mllp: published batch %s", final.name)

    def _open(self) -> None:
        self._seq += 1
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        self._part = self.incoming / f".mllp-{stamp}-{os.getpid()}-{time.time_ns() % 10**9:09d}-{self._seq:05d}.hl7.part"
        self._fh = os.open(self._part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o640)
        _fsync_dir(self.incoming)
        self._count = 0
        self._opened = time.monotonic()

    def store(self, message: bytes, key: tuple[str, str, str] | None) -> bool:
        """Append one message durably; False when it was stored before (same key), True when now."""
        with self.lock:
            if key is not None and key in self.seen:
                return False
            if self._fh is None:
                self._open()
            assert self._fh is not None
            data = frame(message)
            written = 0
            while written < len(data):
                written += os.write(self._fh, data[written:])
            os.fsync(self._fh)
            self._remember(key)
            self._count += 1
            if self._count >= self.max_messages:
                self._rotate()
            return True

    def _rotate(self) -> None:
        if self._fh is None or self._part is None:
            return
        os.fsync(self._fh)
        os.close(self._fh)
        self._fh = None
        part, self._part = self._part, None
        self._publish(part)

    def tick(self) -> None:
        """Publish the open batch once it is ``max_age`` seconds old."""
        with self.lock:
            if self._fh is not None and time.monotonic() - self._opened >= self.max_age:
                self._rotate()

    def close(self) -> None:
        with self.lock:
            self._rotate()


# --- the listener ----------------------------------------------------------------------------------

@dataclass
class ListenerStats:
    accepted: int = 0
    duplicates: int = 0
    errors: int = 0
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + 1)


def handle_frame(message: bytes, store: BatchStore, stats: ListenerStats) -> bytes:
    """The ACK for one received frame, after storing it when it is an HL7 v2 message."""
    try:
        msg = Message(segments_of(message))
    except ParseError as exc:
        stats.add("errors")
        return ack(message, "AE", f"not an HL7 v2 message: {exc.message}")
    try:
        fresh = store.store(message, message_key(msg))
    except OSError as exc:
        stats.add("refused")
        log.error("mllp: cannot store a message (%s): answered AR", exc.strerror or type(exc).__name__)
        return ack(message, "AR", "the message could not be stored; send it again")
    stats.add("accepted" if fresh else "duplicates")
    return ack(message, "AA", "" if fresh else "already received and stored")


class _Handler(socketserver.BaseRequestHandler):
    server: MllpServer

    def handle(self) -> None:
        reader = FrameReader()
        sock: socket.socket = self.request
        sock.settimeout(self.server.idle_timeout)
        peer = f"{self.client_address[0]}:{self.client_address[1]}"
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                for message in reader.feed(data):
                    sock.sendall(handle_frame(message, self.server.store, self.server.stats))
        except ValueError:
            log.warning("mllp: %s sent a frame over %d MiB: connection closed", peer, MAX_FRAME >> 20)
        except (OSError, ssl.SSLError) as exc:
            log.info("mllp: connection from %s ended: %s", peer, type(exc).__name__)
        if reader.pending:
            log.warning("mllp: %s disconnected inside a message: that message was not stored nor acknowledged", peer)


class MllpServer(socketserver.ThreadingTCPServer):
    """One thread per connection; every connection appends to the same :class:`BatchStore`."""

    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, address: tuple[str, int], store: BatchStore, *, tls: ssl.SSLContext | None = None,
                 idle_timeout: float = 300.0) -> None:
        self.store = store
        self.stats = ListenerStats()
        self.tls = tls
        self.idle_timeout = idle_timeout
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[socket.socket, tuple[str, int]]:
        sock, addr = super().get_request()
        if self.tls is not None:  # the handshake happens in the connection's thread, on first read
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr  # type: ignore[return-value]


def server_tls(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


def listen(host: str, port: int, landing: Path, *, max_messages: int = 1000, max_age: float = 60.0,
           tls: ssl.SSLContext | None = None, ready: threading.Event | None = None,
           stop: threading.Event | None = None) -> ListenerStats:
    """Serve until ``stop`` is set (or KeyboardInterrupt); publishes the open batch on the way out."""
    store = BatchStore(landing, max_messages=max_messages, max_age=max_age)
    server = MllpServer((host, port), store, tls=tls)
    stop = stop or threading.Event()

    def ticker() -> None:
        while not stop.wait(min(1.0, max_age / 2 if max_age > 0 else 1.0)):
            store.tick()

    threading.Thread(target=ticker, name="mllp-rotate", daemon=True).start()
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    serving.start()
    log.warning("mllp: listening on %s:%d%s, landing in %s", host, server.server_address[1],
                " (TLS)" if tls else "", landing)
    if ready is not None:
        ready.set()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        store.close()
    return server.stats


# --- the sender ------------------------------------------------------------------------------------

def file_messages(path: Path) -> Iterator[bytes]:
    """The messages of an HL7 v2 file (plain, batch or file envelope), each as CR-joined segments."""
    current: list[bytes] = []
    for _, seg in Lines(path):
        tag = seg[:3]
        if tag in (b"FHS", b"BHS", b"BTS", b"FTS"):
            if current:
                yield CR.join(current) + CR
            current = []
        elif tag == b"MSH":
            if current:
                yield CR.join(current) + CR
            current = [seg]
        elif current:
            current.append(seg)
    if current:
        yield CR.join(current) + CR


@dataclass
class SendReport:
    sent: int = 0
    accepted: int = 0
    errors: int = 0  # AE/CE: the receiver could not process the message (not retried)
    rejected: int = 0  # AR/CR after every retry
    failed: int = 0  # no ACK after every retry (connection)

    @property
    def ok(self) -> bool:
        return self.accepted == self.sent


class Sender:
    """One connection, reopened when it breaks; each message is sent until it is acknowledged."""

    def __init__(self, host: str, port: int, *, tls: ssl.SSLContext | None = None, server_name: str | None = None,
                 timeout: float = 30.0, retries: int = 8, backoff: float = 0.2) -> None:
        self.host, self.port, self.tls, self.server_name = host, port, tls, server_name
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        self._sock: socket.socket | None = None
        self._reader = FrameReader()

    def _connect(self) -> socket.socket:
        if self._sock is None:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
            if self.tls is not None:
                sock = self.tls.wrap_socket(sock, server_hostname=self.server_name or self.host)
            self._sock, self._reader = sock, FrameReader()
        return self._sock

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None

    def _exchange(self, message: bytes) -> bytes:
        sock = self._connect()
        sock.sendall(frame(message))
        while True:
            data = sock.recv(65536)
            if not data:
                raise ConnectionError("the listener closed the connection before its ACK")
            frames = self._reader.feed(data)
            if frames:
                return frames[0]

    def send(self, message: bytes) -> str:
        """MSA-1 of the ACK (``AA``, ``AE``, ``AR``...), or '' when none came after every retry."""
        for attempt in range(self.retries + 1):
            try:
                code, _ = parse_ack(self._exchange(message))
            except (OSError, ssl.SSLError):
                self.close()
                code = ""
            if code in ("AA", "CA", "AE", "CE"):
                return code
            if attempt < self.retries:  # AR/CR or no answer: transient, wait and send again
                time.sleep(self.backoff * (2 ** min(attempt, 6)))
        return code


def send_file(path: Path, sender: Sender) -> SendReport:
    report = SendReport()
    try:
        for message in file_messages(path):
            report.sent += 1
            code = sender.send(message)
            if code in ("AA", "CA"):
                report.accepted += 1
            elif code in ("AE", "CE"):
                report.errors += 1
            elif code in ("AR", "CR"):
                report.rejected += 1
            else:
                report.failed += 1
    finally:
        sender.close()
    return report


def client_tls(cafile: Path | None) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cafile) if cafile else None)
