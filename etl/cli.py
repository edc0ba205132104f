"""The ``fhirflow`` command: convert, import, run (both), each usable without Airflow.

Exit status: 0 everything converted (and loaded); 3 some input was rejected (everything else was
still written and loaded; see ``OUT/errors``); 2 usage or configuration error; 1 the load failed.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from etl import __version__, compiled
from etl.config import DEFAULT_ID_SALT, ImportConfig, JobConfig, Strictness
from etl.errors import ConfigError, LoadError
from etl.sources.registry import FORMATS
from etl.summary import RunSummary

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_REJECTED = 0, 1, 2, 3

log = logging.getLogger("fhirflow")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fhirflow", description=__doc__.split("\n\n")[0] if __doc__ else None)
    build = "compiled" if compiled() else "pure Python"
    p.add_argument("--version", action="version", version=f"fhirflow {__version__} ({build})")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = p.add_subparsers(dest="command", required=True)

    conv = argparse.ArgumentParser(add_help=False)
    conv.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="input files or folders")
    conv.add_argument("-o", "--out", type=Path, required=True, help="output folder")
    conv.add_argument("--format", choices=list(FORMATS), help="skip detection: all inputs are this format")
    conv.add_argument("--id-salt", default=os.environ.get("FHIRFLOW_ID_SALT", DEFAULT_ID_SALT),
                      help="key for resource ids (env FHIRFLOW_ID_SALT); keep it the same across runs")
    conv.add_argument("--strictness", choices=[s.value for s in Strictness], default="warn",
                      help="recoverable data problems: ignore, warn (default), or raise (reject the unit)")
    conv.add_argument("--max-file-mb", type=int, default=256, help="rotate NDJSON files at this size (MiB)")
    conv.add_argument("--no-parquet", action="store_true", help="skip the Parquet staging tables")
    conv.add_argument("--timezone", default=os.environ.get("FHIRFLOW_SOURCE_TZ"),
                      help="IANA zone of source timestamps without an offset (default: keep the date only)")
    conv.add_argument("--transaction-time", help="manifest transactionTime (default: now)")
    conv.add_argument("--validate", action="store_true", help="X12: also run pyx12's validator where it has a map")
    conv.add_argument("--ledger", type=Path,
                      help="X12: ledger of loaded interchanges (default OUT/../.fhirflow-x12-ledger.json)")
    conv.add_argument("--no-ledger", action="store_true", help="X12: do not detect re-sent interchanges")
    conv.add_argument("--reprocess", action="store_true", help="X12: convert interchanges the ledger has seen")

    load = argparse.ArgumentParser(add_help=False)
    load.add_argument("--fhir-url", default=os.environ.get("FHIRFLOW_FHIR_URL"),
                      help="FHIR base URL, e.g. http://127.0.0.1:8080/fhir (env FHIRFLOW_FHIR_URL)")
    load.add_argument("--dialect", default="hapi", help="server flavour of $import (default hapi)")
    load.add_argument("--public-base-url", help="NDJSON is already served at this URL (else fhirflow serves it)")
    load.add_argument("--publish-host", default="127.0.0.1", help="address to serve NDJSON on (default 127.0.0.1)")
    load.add_argument("--advertise-host", help="host name the FHIR server uses to reach this machine (containers)")
    load.add_argument("--max-wait", type=float, default=10.0, help="cap on the server's Retry-After while polling (s)")
    load.add_argument("--timeout", type=float, default=1800.0, help="give up polling after this many seconds")
    load.add_argument("--no-verify", action="store_true", help="do not check every resource id on the server")

    sub.add_parser("convert", parents=[conv], help="convert inputs to OUT/{fhir,parquet,errors} + manifest.json")
    imp = sub.add_parser("import", parents=[load], help="load a converted folder with $import")
    imp.add_argument("folder", type=Path, help="a folder written by 'fhirflow convert'")
    sub.add_parser("run", parents=[conv, load], help="convert, then import")
    return p


def _job_config(args: argparse.Namespace) -> JobConfig:
    load = ImportConfig()
    if getattr(args, "fhir_url", None) is not None or args.command in ("import", "run"):
        if not args.fhir_url:
            raise ConfigError("--fhir-url is required (or set FHIRFLOW_FHIR_URL)")
        load = ImportConfig(
            fhir_url=args.fhir_url, dialect=args.dialect, public_base_url=args.public_base_url,
            publish_host=args.publish_host, advertise_host=args.advertise_host, max_retry_after_s=args.max_wait, timeout_s=args.timeout,
            verify="none" if args.no_verify else "ids",
        )
    if args.command == "import":
        return JobConfig(load=load)
    return JobConfig(
        id_salt=args.id_salt,
        strictness=Strictness(args.strictness),
        ndjson_max_bytes=args.max_file_mb * 1024 * 1024,
        parquet=not args.no_parquet,
        transaction_time=args.transaction_time,
        source_timezone=args.timezone,
        x12_validate=args.validate,
        x12_ledger=None if args.no_ledger else (args.ledger or args.out.resolve().parent / ".fhirflow-x12-ledger.json"),
        x12_reprocess=args.reprocess,
        load=load,
    )


def _progress(name: str, index: int, units: int) -> None:
    sys.stderr.write(f"\r  {index} file(s), {units} unit(s) read; now {name[:40]:<40}")
    sys.stderr.flush()


def _convert(args: argparse.Namespace, config: JobConfig) -> RunSummary:
    from etl.pipeline import convert

    interactive = sys.stderr.isatty()
    summary = convert(args.inputs, args.out, config, progress=_progress if interactive else None,
                      format_name=args.format)
    if interactive:
        sys.stderr.write("\n")
    print(summary.render())
    print(f"output: {args.out}/ (manifest.json, fhir/, parquet/, errors/)")
    return summary


def _import(folder: Path, config: JobConfig) -> None:
    from etl.load.importer import import_folder

    report = import_folder(folder, config)
    print(report.render())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fhirflow`` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        config = _job_config(args)
        if args.command == "import":
            _import(args.folder, config)
            return EXIT_OK
        summary = _convert(args, config)
        if args.command == "run":
            _import(args.out, config)
        if summary.rejected:
            print(f"{summary.rejected} unit(s) rejected: see {args.out}/errors/", file=sys.stderr)
            return EXIT_REJECTED
        return EXIT_OK
    except ConfigError as exc:
        print(f"fhirflow: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except LoadError as exc:
        print(f"fhirflow: load failed: {exc}", file=sys.stderr)
        if exc.outcome:
            print(json.dumps(exc.outcome, indent=2)[:4000], file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    raise SystemExit(main())
