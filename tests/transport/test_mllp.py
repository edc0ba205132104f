"""MLLP listener and sender over real sockets on 127.0.0.1 (ports 12570-12579, FHIRFLOW_TEST_MLLP_PORT).

The listener runs as its own process (``fhirflow mllp listen``), so that it can be killed
(SIGKILL) mid-stream and started again. What must hold whatever happens: every message the
sender got an AA for is in exactly one published batch, and every published batch converts.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from etl.config import JobConfig
from etl.flows import landing
from etl.pipeline import convert
from etl.transport.mllp import FrameReader, Sender, file_messages, frame, parse_ack, send_file

BASE_PORT = int(os.environ.get("FHIRFLOW_TEST_MLLP_PORT", "12570"))
FHIRFLOW = str(Path(sys.executable).parent / "fhirflow")


def _message(n: int, sender: str = "LAB") -> bytes:
    return (f"MSH|^~\\&|{sender}|GHH|EHR|GHH|20240101120000+0000||ADT^A01^ADT_A01|C{n:05d}|P|2.5.1\r"
            f"PID|1||P{n:05d}^^^GHH^MR||Doe^Jane||19800101|F\rPV1|1|I|4E^1^A\r").encode()


def _write(path: Path, messages: list[bytes]) -> Path:
    path.write_bytes(b"".join(messages))
    return path


class Listener:
    """``fhirflow mllp listen`` in a child process."""

    def __init__(self, port: int, landing_dir: Path, *extra: str) -> None:
        self.port, self.landing, self.extra = port, landing_dir, extra
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> Listener:
        self.proc = subprocess.Popen(
            [FHIRFLOW, "mllp", "listen", "--host", "127.0.0.1", "--port", str(self.port), "--landing",
             str(self.landing), *self.extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(300):  # it is up once it accepts a connection
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(self.proc.stderr.read() if self.proc.stderr else "listener exited") from None
                time.sleep(0.1)
        raise RuntimeError("the listener did not start")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> str:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=60)
        return out


@pytest.fixture
def land(tmp_path: Path) -> Path:
    return tmp_path / "root" / "landing" / "hl7v2"


@pytest.fixture
def listener(land: Path) -> Iterator[Listener]:
    lst = Listener(BASE_PORT, land, "--max-messages", "3").start()
    yield lst
    if lst.proc is not None and lst.proc.poll() is None:
        lst.stop()


def _stored(land: Path) -> Counter[bytes]:
    """Control ids of the messages in every published batch (the DAG's view: hidden files aside)."""
    out: Counter[bytes] = Counter()
    for f in sorted(p for p in land.iterdir() if landing.ready(p)):
        for msg in FrameReader().feed(f.read_bytes()):
            out[msg.split(b"|")[9]] += 1
    return out


def test_send_acknowledges_each_message_and_batches_are_published(tmp_path: Path, land: Path,
                                                                  listener: Listener) -> None:
    src = _write(tmp_path / "in.hl7", [_message(i) for i in range(7)])
    report = send_file(src, Sender("127.0.0.1", listener.port, timeout=10))
    assert (report.sent, report.accepted) == (7, 7) and report.ok
    assert sum(_stored(land).values()) == 6  # two batches of 3 rotated by count; the 7th is open
    said = listener.stop()
    assert "7 stored" in said
    stored = _stored(land)
    assert stored == Counter({f"C{i:05d}".encode(): 1 for i in range(7)})
    assert not list((land / ".mllp").glob("*.part"))
    # The published batches are what the hl7v2_batches DAG converts.
    claimed = landing.claim(tmp_path / "root", "hl7v2", "run1")
    summary = convert(claimed, tmp_path / "out", JobConfig(id_salt="mllp"))
    assert (summary.attempted, summary.rejected, summary.resources["Patient"]) == (7, 0, 7)


def test_the_cli_sender_checks_acks_and_garbage_gets_ae(tmp_path: Path, land: Path, listener: Listener) -> None:
    src = _write(tmp_path / "in.hl7", [_message(i) for i in range(2)])
    proc = subprocess.run([FHIRFLOW, "mllp", "send", str(src), "--port", str(listener.port)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "2 sent, 2 accepted (AA)" in proc.stdout
    with socket.create_connection(("127.0.0.1", listener.port), timeout=10) as sock:
        sock.sendall(frame(b"this is no HL7 message"))
        code, _ = parse_ack(FrameReader().feed(sock.recv(4096))[0])
    assert code == "AE"
    listener.stop()
    assert sum(_stored(land).values()) == 2  # the AE frame was not stored


def test_a_client_disconnecting_mid_frame_stores_nothing_of_it(land: Path, listener: Listener) -> None:
    whole = frame(_message(1))
    with socket.create_connection(("127.0.0.1", listener.port), timeout=10) as sock:
        sock.sendall(whole[: len(whole) // 2])  # then the connection drops
    with socket.create_connection(("127.0.0.1", listener.port), timeout=10) as sock:
        sock.sendall(frame(_message(2)))
        assert parse_ack(FrameReader().feed(sock.recv(4096))[0]) == ("AA", "C00002")
    listener.stop()
    assert _stored(land) == Counter({b"C00002": 1})


def test_a_message_sent_again_is_acknowledged_but_stored_once(land: Path, listener: Listener) -> None:
    sender = Sender("127.0.0.1", listener.port, timeout=10)
    assert [sender.send(_message(5)) for _ in range(3)] == ["AA", "AA", "AA"]
    sender.close()
    listener.stop()
    assert _stored(land) == Counter({b"C00005": 1})


def test_two_clients_at_once(tmp_path: Path, land: Path, listener: Listener) -> None:
    a = _write(tmp_path / "a.hl7", [_message(i, "A") for i in range(40)])
    b = _write(tmp_path / "b.hl7", [_message(i, "B") for i in range(40, 80)])
    reports = {}

    def run(name: str, path: Path) -> None:
        reports[name] = send_file(path, Sender("127.0.0.1", listener.port, timeout=20))

    threads = [threading.Thread(target=run, args=(n, p)) for n, p in (("a", a), ("b", b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert reports["a"].accepted == reports["b"].accepted == 40
    listener.stop()
    assert _stored(land) == Counter({f"C{i:05d}".encode(): 1 for i in range(80)})


def test_listener_killed_and_restarted_mid_stream_loses_and_doubles_nothing(tmp_path: Path, land: Path) -> None:
    lst = Listener(BASE_PORT + 1, land, "--max-messages", "1000", "--max-age", "3600").start()
    src = _write(tmp_path / "in.hl7", [_message(i) for i in range(60)])
    acked: list[bytes] = []

    class Recording(Sender):
        def send(self, message: bytes) -> str:
            code = super().send(message)
            if code == "AA":
                acked.append(message.split(b"|")[9])
            time.sleep(0.02)  # a steady stream: the kill lands while most messages are still to come
            return code

    result = {}
    sender = Recording("127.0.0.1", lst.port, timeout=5, retries=60, backoff=0.1)
    client = threading.Thread(target=lambda: result.setdefault("r", send_file(src, sender)))
    client.start()
    while len(acked) < 20 and client.is_alive():  # mid-stream: some acknowledged, most not yet sent
        time.sleep(0.01)
    assert len(acked) < 60
    lst.kill()  # SIGKILL: no clean shutdown, the open batch stays hidden under .mllp/
    assert not [p for p in land.iterdir() if landing.ready(p)]  # nothing published yet
    lst.start()  # recovers the open batch and publishes it; the sender reconnects and goes on
    client.join(300)
    assert result["r"].accepted == 60
    lst.stop()
    stored = _stored(land)
    assert set(acked) == set(stored) and all(n == 1 for n in stored.values())
    assert len(stored) == 60


def test_a_batch_cut_mid_message_by_a_crash_is_recovered_to_its_last_whole_message(land: Path) -> None:
    (land / ".mllp").mkdir(parents=True)
    part = land / ".mllp" / ".mllp-20240101T000000-1-000000001-00001.hl7.part"
    part.write_bytes(frame(_message(1)) + frame(_message(2))[:30])  # the second never got its ACK
    lst = Listener(BASE_PORT + 2, land).start()
    lst.stop()
    assert _stored(land) == Counter({b"C00001": 1})


def test_tls(tmp_path: Path, land: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
                   check=True, capture_output=True)
    lst = Listener(BASE_PORT + 3, land, "--tls-cert", str(cert), "--tls-key", str(key)).start()
    src = _write(tmp_path / "in.hl7", [_message(1)])
    proc = subprocess.run([FHIRFLOW, "mllp", "send", str(src), "--host", "localhost", "--port", str(lst.port),
                           "--tls-ca", str(cert)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lst.stop()
    assert _stored(land) == Counter({b"C00001": 1})


def test_file_messages_splits_batches(tmp_path: Path) -> None:
    src = _write(tmp_path / "b.hl7", [b"FHS|^~\\&\rBHS|^~\\&\r", _message(1), _message(2), b"BTS|2\rFTS|1\r"])
    assert [m.split(b"|")[9] for m in file_messages(src)] == [b"C00001", b"C00002"]
