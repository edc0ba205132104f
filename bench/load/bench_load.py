"""Load benchmark (``make bench-load``): resources per second into fresh HAPI FHIR servers.

One converted batch (the 837P generator's claims through ``fhirflow convert``: Claim, Patient,
Coverage, Organization, Practitioner, Location; at least 50,000 resources by default) is loaded,
in one run, into a fresh server per measurement (docker/hapi/hapi.sh, throughput profile, ports
``--load-port`` + 1…), on H2 and on PostgreSQL (docker/postgres/pg.sh, a cluster of its own per
server):

- ``$import`` (dialect ``hapi``): kick-off to verified (every id looked up), the real
  :func:`etl.load.importer.import_folder`;
- transaction Bundles of PUTs at their best concurrency: each of ``--load-concurrency`` is tried
  on a small batch of its own (fresh ids) in the same server first, and the full batch goes at the
  fastest;
- optionally (``--load-baseline``) ``$import`` on H2 as it was before issue 16: the fast JVM
  profile, HAPI's storage defaults for what fhirflow now tunes, one job for every type.

Every server gets the same warm-up first (a load of the small batch: the transaction server's
concurrency trials, a ``$import`` of it on the others), so no row pays the JIT's start alone.

``python bench/load/bench_load.py --ablate PORT`` measures the settings one at a time instead, on
a small batch into warm H2 servers (what docs/benchmarks.md says each setting bought).

Each row also gives the resources per CPU-second the server used (its JVM plus, on PostgreSQL,
the cluster's processes): on a shared machine the wall rate depends on the neighbours; that one
much less. Nothing asserts a timing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
HAPI = ROOT / "docker" / "hapi" / "hapi.sh"
TICKS = os.sysconf("SC_CLK_TCK")
# What fhirflow tunes in the jar, switched back to HAPI's defaults (FhirflowJpaConfig).
UNTUNED = ("--fhirflow.mass-ingestion=false --fhirflow.match-url-cache=false --fhirflow.store-meta-source=true "
           "--fhirflow.index-storage-optimized=false --fhirflow.jdbc-batch-size=20")


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


@dataclass
class Server:
    url: str
    port: int
    data: Path

    def cpu_seconds(self) -> float:
        """CPU time used so far by the server's JVM and its PostgreSQL cluster (if any)."""
        pids = [int((HAPI.parent / "run" / f"hapi-{self.port}.pid").read_text().strip())]
        pg_pid = self.data / "pg" / "postmaster.pid"
        if pg_pid.exists():
            master = int(pg_pid.read_text().split()[0])
            pids += [master] + _children(master)
        return sum(_cpu(p) for p in pids)


def _children(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _cpu(pid: int) -> float:
    """utime + stime of a process and its reaped children (PostgreSQL backends come and go)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / TICKS


def hapi_up(port: int, data: Path, *, db: str, profile: str = "throughput", extra: str = "") -> Server:
    if data.exists():
        shutil.rmtree(data)
    env = {**os.environ, "HAPI_DATA_DIR": str(data), "HAPI_ARGS": extra, "HAPI_START_TIMEOUT": "600"}
    env.pop("HAPI_JAVA_OPTS", None)
    t = time.perf_counter()
    proc = subprocess.run(["bash", str(HAPI), "up", "--port", str(port), "--profile", profile, "--db", db,
                           "--pg-port", str(port + 37200)], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"hapi.sh up failed:\n{proc.stderr[-3000:]}")
    log(f"HAPI on {db} ({profile}{', untuned' if extra else ''}) up on port {port} in {time.perf_counter() - t:.0f} s")
    return Server(proc.stdout.strip().splitlines()[-1], port, data)


def hapi_down(server: Server) -> None:
    subprocess.run(["bash", str(HAPI), "down", "--port", str(server.port)], capture_output=True)
    shutil.rmtree(server.data, ignore_errors=True)


def convert(src: Path, out: Path, salt: str) -> dict[str, int]:
    if out.exists():
        shutil.rmtree(out)
    cmd = [sys.executable, "-m", "etl.cli", "convert", str(src), "-o", str(out), "--no-parquet", "--no-state",
           "-q", "--id-salt", salt]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
    manifest = json.loads((out / "manifest.json").read_text())
    counts: dict[str, int] = {}
    for o in manifest["output"]:
        counts[o["type"]] = counts.get(o["type"], 0) + int(o["count"])
    return counts


def load(server: Server, folder: Path, dialect: str, concurrency: int = 2, bundle_size: int = 500,
         import_chunk: int = 500, import_tiers: bool = True) -> dict[str, Any]:
    """One load through :func:`import_folder`, verified by id; wall and server CPU seconds."""
    from etl.config import ImportConfig, JobConfig
    from etl.load.importer import import_folder

    cfg = JobConfig(load=ImportConfig(fhir_url=server.url, dialect=dialect, concurrency=concurrency,
                                      bundle_size=bundle_size, import_chunk=import_chunk, import_tiers=import_tiers,
                                      max_retry_after_s=10,
                                      timeout_s=7200, http_timeout_s=600))
    cpu0, t0 = server.cpu_seconds(), time.perf_counter()
    report = import_folder(folder, cfg)
    wall, cpu = time.perf_counter() - t0, server.cpu_seconds() - cpu0
    n = sum(report.found.values())
    if report.found != report.sent:
        raise SystemExit(f"{dialect}: sent {report.sent}, found {report.found}")
    return {"dialect": dialect, "concurrency": concurrency, "resources": n, "wall_s": round(wall, 1),
            "load_s": report.seconds.get("load"), "verify_s": report.seconds.get("verify"),
            "server_cpu_s": round(cpu, 1), "rate": n / wall, "rate_cpu": n / cpu if cpu else 0.0,
            "requests": report.requests, "polls": report.polls}


def bench_load(claims: int, sweep_claims: int, concurrencies: list[int], dbs: list[str], port: int,
               data: Path, baseline: bool, import_chunk: int) -> list[dict[str, Any]]:
    """Every measurement as a dict (see the module docstring)."""
    sys.path.insert(0, str(ROOT / "bench" / "x12"))
    from gen_837p import generate  # type: ignore[import-not-found]

    work = data / "load"
    work.mkdir(parents=True, exist_ok=True)
    src, small = work / f"claims-{claims}.x12", work / f"claims-{sweep_claims}.x12"
    for path, n in ((src, claims), (small, sweep_claims)):
        if not path.exists():
            generate(path, claims=n)
    batch = work / "batch"
    counts = convert(src, batch, "bench-load")
    total = sum(counts.values())
    log(f"load: batch of {total:,} resources from {claims:,} claims ({', '.join(f'{t} {n}' for t, n in sorted(counts.items()))})")
    results: list[dict[str, Any]] = []
    next_port = port

    def fresh(db: str, **kw: Any) -> Server:
        nonlocal next_port
        next_port += 1
        return hapi_up(next_port, work / f"hapi-{next_port}", db=db, **kw)

    if baseline:
        server = fresh("h2", profile="fast", extra=UNTUNED)
        try:
            convert(small, work / "warm", "bench-load-warm")
            load(server, work / "warm", "hapi", import_tiers=False)
            r = load(server, batch, "hapi", import_tiers=False)
            results.append({**r, "db": "h2", "label": "$import, before (fast JVM, HAPI storage defaults)"})
            log(f"load: {results[-1]}")
        finally:
            hapi_down(server)
        next_port = port
    warm = work / "warm"
    for db in dbs:
        server = fresh(db)
        try:
            convert(small, warm, "bench-load-warm")  # the same JIT warm-up the transaction server gets
            load(server, warm, "hapi", import_chunk=import_chunk)
            r = load(server, batch, "hapi", import_chunk=import_chunk)
            results.append({**r, "db": db, "label": f"$import (chunks of {import_chunk})"})
            log(f"load: {results[-1]}")
        finally:
            hapi_down(server)
        server = fresh(db)
        try:
            sweep: dict[int, float] = {}
            for c in concurrencies:  # each on its own fresh ids, in the same server
                folder = work / f"sweep-{c}"
                convert(small, folder, f"bench-load-sweep-{c}")
                r = load(server, folder, "transaction", concurrency=c)
                sweep[c] = r["rate"]
                results.append({**r, "db": db, "label": f"transaction Bundles of 500, {c} at a time (small batch)"})
                log(f"load: {results[-1]}")
            best = max(sweep, key=lambda c: sweep[c])
            r = load(server, batch, "transaction", concurrency=best)
            results.append({**r, "db": db, "label": f"transaction Bundles of 500, {best} at a time (best)",
                            "best": True})
            log(f"load: {results[-1]}")
        finally:
            hapi_down(server)
        next_port = port
    return results


def ablate(port: int, data: Path, claims: int) -> list[dict[str, Any]]:
    """Each setting on its own: small batches (fresh ids each) into warm H2 servers."""
    sys.path.insert(0, str(ROOT / "bench" / "x12"))
    from gen_837p import generate

    work = data / "load"
    work.mkdir(parents=True, exist_ok=True)
    src, warm_src = work / f"claims-{claims}.x12", work / "claims-500.x12"
    for path, n in ((src, claims), (warm_src, 500)):
        if not path.exists():
            generate(path, claims=n)
    out: list[dict[str, Any]] = []
    steps: list[tuple[str, str, list[tuple[str, str, dict[str, Any]]]]] = [
        ("fast", UNTUNED, [("$import, one job", "hapi", {"import_tiers": False})]),
        ("throughput", UNTUNED, [("$import, one job", "hapi", {"import_tiers": False})]),
        ("throughput", "", [("$import, one job", "hapi", {"import_tiers": False}),
                            ("$import, tiers", "hapi", {}),
                            ("$import, tiers, chunks of 1000", "hapi", {"import_chunk": 1000}),
                            ("transaction, 2 at a time", "transaction", {"concurrency": 2}),
                            ("transaction, 4 at a time", "transaction", {"concurrency": 4})]),
    ]
    for n, (profile, extra, runs) in enumerate(steps, 1):
        server = hapi_up(port + n, work / f"hapi-{port + n}", db="h2", profile=profile, extra=extra)
        try:
            convert(warm_src, work / "warm", f"ablate-warm-{n}")
            load(server, work / "warm", "hapi", import_tiers=False)
            for m, (label, dialect, kw) in enumerate(runs):
                folder = work / f"ablate-{n}-{m}"
                convert(src, folder, f"ablate-{n}-{m}")
                r = load(server, folder, dialect, **kw)
                out.append({**r, "label": f"{profile}{', untuned' if extra else ', tuned'}: {label}"})
                log(f"ablate: {out[-1]['label']}: {r['rate']:.0f}/s, {r['rate_cpu']:.0f}/CPU-s")
                shutil.rmtree(folder, ignore_errors=True)
        finally:
            hapi_down(server)
    return out


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="load benchmark: settings one at a time (see the module docstring)")
    ap.add_argument("--ablate", type=int, required=True, metavar="PORT", help="servers take the ports after PORT")
    ap.add_argument("--claims", type=int, default=2000)
    ap.add_argument("--data", type=Path, default=ROOT / "bench" / ".data")
    ns = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    rows = ablate(ns.ablate, ns.data.resolve(), ns.claims)
    print(json.dumps(rows, indent=2))
    for r in rows:
        print(f"{r['label']:<60} {r['resources']:>6} {r['rate']:>8.0f}/s {r['rate_cpu']:>8.0f}/CPU-s")
