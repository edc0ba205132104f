"""The ``fhirflow`` command: convert, import, run (both), each usable without Airflow.

Exit status: 0 everything converted (and loaded); 3 some input was rejected (everything else was
still written and loaded; see ``OUT/errors``); 2 usage or configuration error (a bad option value, a
missing input, an output folder that cannot be written); 1 the run failed (the load, or writing the
output once under way: disk full, I/O error); 130 interrupted. Each is one line on stderr, no traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

from etl import __version__, cli_views, compiled
from etl.config import DEFAULT_ID_SALT, ImportConfig, JobConfig, Strictness
from etl.errors import ConfigError, LoadError, StageError
from etl.progress import Reporter
from etl.sources.registry import FORMATS
from etl.summary import RunSummary
from etl.transport import mllp_cli

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_REJECTED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

log = logging.getLogger("fhirflow")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage block) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _number(kind: type[int] | type[float], unit: str, minimum: float) -> Callable[[str], float]:
    """An option value of ``kind`` in the user's ``unit``, at least ``minimum`` (argparse names the option)."""
    what = "a whole number" if kind is int else "a number"

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what} of {unit}, not {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum:g} {unit}, not {text}")
        return value
    return parse


def _file_mode(text: str) -> int:
    try:
        mode = int(text.removeprefix("0o"), 8)
    except ValueError:
        mode = -1
    if not 0 <= mode <= 0o777 or not mode & 0o400:
        raise argparse.ArgumentTypeError(f"must be octal permission bits the owner can read, such as 0640, not {text!r}")
    return mode


def _zone(text: str) -> str:
    try:
        ZoneInfo(text)
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
        raise argparse.ArgumentTypeError(f"must be an IANA time zone such as America/New_York, not {text!r}") from None
    return text


def _instant(text: str) -> str:
    try:
        ok = datetime.fromisoformat(text.replace("Z", "+00:00")).tzinfo is not None
    except ValueError:
        ok = False
    if not ok:
        raise argparse.ArgumentTypeError(f"must be a date and time with an offset such as 2026-01-01T00:00:00Z, not {text!r}")
    return text


def _date(text: str) -> str:
    try:
        return datetime.fromisoformat(text).date().isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a date such as 2026-01-31, not {text!r}") from None


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="fhirflow", description=__doc__.split("\n\n")[0] if __doc__ else None)
    build = "compiled" if compiled() else "pure Python"
    p.add_argument("--version", action="version", version=f"fhirflow {__version__} ({build})")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = p.add_subparsers(dest="command", required=True)

    conv = _Parser(add_help=False)
    conv.add_argument("inputs", nargs="+", type=_location, metavar="INPUT",
                      help="input files or folders, object-storage URLs (s3://, gs://, az://, sftp://, file://), "
                           "or a DICOMweb server: dicomweb+http://HOST/dicom-web")
    conv.add_argument("-o", "--out", type=_location, required=True,
                      help="output folder, or an object-storage URL (written as generations + a CURRENT pointer)")
    conv.add_argument("--format", choices=list(FORMATS), help="skip detection: all inputs are this format")
    conv.add_argument("--id-salt", default=os.environ.get("FHIRFLOW_ID_SALT", DEFAULT_ID_SALT),
                      help="key for resource ids (env FHIRFLOW_ID_SALT); keep it the same across runs")
    conv.add_argument("--strictness", choices=[s.value for s in Strictness], default="warn",
                      help="recoverable data problems: ignore, warn (default), or raise (reject the unit)")
    conv.add_argument("--max-file-mb", type=_number(int, "MiB", 1), default=256,
                      help="rotate NDJSON files at this size (MiB, at least 1)")
    conv.add_argument("--no-parquet", action="store_true", help="skip the Parquet staging tables")
    conv.add_argument("--views", action="append", type=Path, default=[], metavar="DIR",
                      help="also stage your own SQL-on-FHIR ViewDefinitions (a folder or file; repeatable) as "
                           "OUT/parquet/<view name>/; a bad one stops the run before it starts (exit 2)")
    conv.add_argument("--lake", type=Path, metavar="DIR", default=os.environ.get("FHIRFLOW_LAKE"),
                      help="merge this run's tables into current-state Delta tables DIR/<table>/ (env FHIRFLOW_LAKE)")
    conv.add_argument("--no-tables", action="store_true",
                      help="skip the shipped analyst tables (claim_item, eob_item_adjudication, ...)")
    conv.add_argument("-q", "--quiet", action="store_true",
                      help="no progress display (bars on a terminal, else a line every 10 s on stderr)")
    conv.add_argument("--timezone", type=_zone, default=os.environ.get("FHIRFLOW_SOURCE_TZ"),
                      help="IANA zone of source timestamps without an offset (default: keep the date only)")
    conv.add_argument("--transaction-time", type=_instant, help="manifest transactionTime (default: now)")
    conv.add_argument("--file-mode", type=_file_mode, default=0o640,
                      help="permission bits of the output files, octal (default 0640; folders add x)")
    conv.add_argument("--follow-symlinks", action="store_true",
                      help="follow symlinks in input folders that lead outside the folder (default: skip them)")
    conv.add_argument("--validate", action="store_true", help="X12: also run pyx12's validator where it has a map")
    conv.add_argument("--reprocess", action="store_true", help="X12: convert interchanges the ledger has loaded")
    conv.add_argument("--since", type=_date, help="DICOMweb: studies with a StudyDate on or after this date (YYYY-MM-DD)")
    conv.add_argument("--until", type=_date, help="DICOMweb: studies with a StudyDate on or before this date")
    conv.add_argument("--dicom-endpoint", metavar="URL",
                      help="DICOM files: the WADO-RS base their studies can be retrieved from (their Endpoint)")
    conv.add_argument("--duplicate-control", choices=["convert", "reject"], default="convert",
                      help="X12: an ISA13 already used by an interchange with other content: convert it with a "
                           "warning (default) or reject it (TA1 025)")

    state = _Parser(add_help=False)
    state.add_argument("--state", default=os.environ.get("FHIRFLOW_STATE"), metavar="URL",
                       help="run-state database: a SQLite file or a database URL (env FHIRFLOW_STATE; "
                            "default OUT/../.fhirflow-state.db): the X12 ledger, the C-CDA documents and the load receipts")
    state.add_argument("--no-state", "--no-ledger", dest="no_state", action="store_true",
                       help="keep no run state: no re-send detection, no load receipts")

    load = _Parser(add_help=False)
    load.add_argument("--fhir-url", default=os.environ.get("FHIRFLOW_FHIR_URL"),
                      help="FHIR base URL, e.g. http://127.0.0.1:8080/fhir (env FHIRFLOW_FHIR_URL)")
    load.add_argument("--dialect", choices=[
                          "hapi", "azure", "azure-initial", "pathling", "smart", "bulk-submit", "bulk-submit-ballot",
                          "gcp", "healthlake", "transaction", "batch"],
                      default=os.environ.get("FHIRFLOW_DIALECT", "hapi"),
                      help="how to load: $import in a server's flavour (hapi, the default; azure, azure-initial, "
                           "pathling, smart, bulk-submit, bulk-submit-ballot, gcp, healthlake), or for servers "
                           "without $import, transaction / batch Bundles of PUTs (env FHIRFLOW_DIALECT)")
    load.add_argument("--bundle-size", type=_number(int, "entries", 1), default=500,
                      help="transaction/batch: PUTs per Bundle (default 500)")
    load.add_argument("--concurrency", type=_number(int, "Bundles", 1), default=2,
                      help="transaction/batch: Bundles in flight at once (default 2)")
    load.add_argument("--import-chunk", type=_number(int, "resources", 1), default=500,
                      help="$import: resources per server work chunk (HAPI maxBatchResourceCount, default 500)")
    load.add_argument("--no-import-tiers", dest="import_tiers", action="store_false",
                      help="$import: one job for every type (default: referenced types first, a job per tier, "
                           "when the batch is larger than 4 chunks)")
    load.add_argument("--verify", choices=["ids", "sample", "none"], default="ids",
                      help="after the load: look up every id (default), count each type and look up a "
                           "sample of ids, or nothing")
    load.add_argument("--public-base-url", help="NDJSON is already served at this URL (else fhirflow serves it)")
    load.add_argument("--publish", dest="publish_url", metavar="URL",
                      help="upload the job's NDJSON to object storage (s3://bucket/prefix) and hand the server "
                           "pre-signed URLs instead of serving it from this machine")
    load.add_argument("--presign-seconds", type=_number(int, "seconds", 60), default=3600,
                      help="lifetime of the pre-signed URLs of --publish (default 3600)")
    load.add_argument("--publish-host", default="127.0.0.1", help="address to serve NDJSON on (default 127.0.0.1)")
    load.add_argument("--advertise-host", help="host name the FHIR server uses to reach this machine (containers)")
    load.add_argument("--publish-allow-remote", action="store_true",
                      default=os.environ.get("FHIRFLOW_PUBLISH_ALLOW_REMOTE") == "1",
                      help="let --publish-host be other than loopback (the NDJSON is PHI; env FHIRFLOW_PUBLISH_ALLOW_REMOTE=1)")
    load.add_argument("--publish-cert", type=Path, help="PEM certificate: serve the NDJSON over HTTPS (with --publish-key)")
    load.add_argument("--publish-key", type=Path, help="PEM private key of --publish-cert")
    load.add_argument("--max-wait", type=_number(float, "seconds", 0), default=10.0,
                      help="cap on the server's Retry-After while polling (s)")
    load.add_argument("--timeout", type=_number(float, "seconds", 1), default=1800.0,
                      help="give up polling after this many seconds")
    load.add_argument("--no-verify", action="store_true", help="the same as --verify none")
    _auth_arguments(load)

    sub.add_parser("convert", parents=[conv, state], help="convert inputs to OUT/{fhir,parquet,errors} + manifest.json")
    imp = sub.add_parser("import", parents=[load, state], help="load a converted folder with $import")
    imp.add_argument("folder", type=Path, help="a folder written by 'fhirflow convert'")
    again = imp.add_mutually_exclusive_group()
    again.add_argument("--resume", dest="resume", action="store_const", const="require", default="auto",
                       help="poll the output's open $import job (its status URL is in the run-state database); "
                            "error if there is none. Without it an open job is resumed too, never imported twice")
    again.add_argument("--no-resume", dest="resume", action="store_const", const="never",
                       help="kick off a new job even if the output's last one is still open on the server")
    again.add_argument("--cancel", action="store_true", help="cancel the output's open $import job (DELETE its status URL)")
    sub.add_parser("run", parents=[conv, state, load], help="convert, then import")
    _ledger_parser(sub.add_parser("ledger", help="the X12 interchange ledger (list, show, forget, import) and "
                                                  "the C-CDA documents seen (documents)"))
    cli_views.add_parser(sub, _Parser)
    mllp_cli.register(sub)
    return p


def _ledger_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--state", default=os.environ.get("FHIRFLOW_STATE"), metavar="URL", required=not os.environ.get("FHIRFLOW_STATE"),
                   help="run-state database (env FHIRFLOW_STATE), e.g. OUT/../.fhirflow-state.db or <root>/state.db")
    sub = p.add_subparsers(dest="ledger_command", required=True)
    ls = sub.add_parser("list", help="every interchange recorded, one line each")
    ls.add_argument("--only", choices=["converted", "loaded"], help="only interchanges in this state")
    show = sub.add_parser("show", help="everything recorded about interchanges with this ISA13 (or ledger id)")
    show.add_argument("isa13", help="the interchange control number (ISA13), or #ID for a ledger id")
    show.add_argument("--sender", help="ISA06 of the sender, when several use the same ISA13")
    forget = sub.add_parser("forget", help="forget interchanges: their next re-send converts and loads again")
    forget.add_argument("isa13", nargs="?", help="the control number (ISA13), or #ID for a ledger id")
    forget.add_argument("--sender", help="ISA06 of the sender")
    forget.add_argument("--all", action="store_true", help="forget every interchange")
    imp = sub.add_parser("import", help="take over a JSON ledger written by fhirflow 0.1")
    imp.add_argument("file", type=Path)
    docs = sub.add_parser("documents", help="every C-CDA document recorded (id, setId, versionNumber, digest, "
                                            "file), one line each")
    docs.add_argument("--only", choices=["converted", "loaded"], help="only documents in this state")
    docs.add_argument("--forget", action="store_true",
                      help="forget them (all, or those --only names): they convert again as new documents")


def _auth_arguments(load: argparse.ArgumentParser) -> None:
    """How the load authenticates to the FHIR server (etl.load.auth); secrets also from the environment."""
    load.add_argument("--smart-client-id", default=os.environ.get("FHIRFLOW_SMART_CLIENT_ID"),
                      help="SMART Backend Services client id (env FHIRFLOW_SMART_CLIENT_ID)")
    load.add_argument("--smart-key", default=os.environ.get("FHIRFLOW_SMART_KEY"), metavar="FILE",
                      help="its private key: a PEM file or a JWKS file of private keys (env FHIRFLOW_SMART_KEY)")
    load.add_argument("--smart-kid", help="the key's kid (default: the JWKS entry's, or the PEM key's RFC 7638 thumbprint)")
    load.add_argument("--smart-alg", choices=["RS384", "ES384"], default="RS384", help="signing algorithm (default RS384)")
    load.add_argument("--smart-scope", default="system/*.read system/*.write", help="scopes to ask for")
    load.add_argument("--smart-token-url", help="token endpoint (default: from [base]/.well-known/smart-configuration)")
    load.add_argument("--bearer-token", default=os.environ.get("FHIRFLOW_BEARER_TOKEN"),
                      help="a static access token (prefer env FHIRFLOW_BEARER_TOKEN: arguments show in ps)")
    load.add_argument("--basic-user", default=os.environ.get("FHIRFLOW_BASIC_USER"), help="HTTP Basic user (env FHIRFLOW_BASIC_USER)")
    load.add_argument("--basic-password", default=os.environ.get("FHIRFLOW_BASIC_PASSWORD"),
                      help="HTTP Basic password (prefer env FHIRFLOW_BASIC_PASSWORD)")
    load.add_argument("--ca-bundle", help="PEM file of the CAs to trust for the FHIR server's certificate")
    load.add_argument("--insecure-no-tls-verify", action="store_true",
                      help="do not verify the FHIR server's TLS certificate (warns: tests only)")
    load.add_argument("--aws-role-arn", help="healthlake: the IAM role HealthLake reads the S3 input with")
    load.add_argument("--aws-kms-key-id", help="healthlake: the KMS key of the job's output")
    load.add_argument("--aws-output-s3", metavar="S3URI", help="healthlake: where HealthLake writes the job's output")
    load.add_argument("--submitter", default=os.environ.get("FHIRFLOW_SUBMITTER", ""), metavar="SYSTEM|VALUE",
                      help="bulk-submit dialects: the submitter Identifier agreed with the server")


def _basic(args: argparse.Namespace) -> tuple[str, str] | None:
    if bool(args.basic_user) != bool(args.basic_password):
        raise ConfigError("--basic-user and --basic-password go together")
    return (args.basic_user, args.basic_password) if args.basic_user else None


def _tls(args: argparse.Namespace) -> tuple[str, str] | None:
    if bool(args.publish_cert) != bool(args.publish_key):
        raise ConfigError("--publish-cert and --publish-key go together")
    return (str(args.publish_cert), str(args.publish_key)) if args.publish_cert else None


def _job_config(args: argparse.Namespace) -> JobConfig:
    load = ImportConfig()
    if getattr(args, "fhir_url", None) is not None or args.command in ("import", "run"):
        if not args.fhir_url:
            raise ConfigError("--fhir-url is required (or set FHIRFLOW_FHIR_URL)")
        load = ImportConfig(
            fhir_url=args.fhir_url, dialect=args.dialect, public_base_url=args.public_base_url,
            publish_url=args.publish_url, presign_seconds=args.presign_seconds,
            publish_host=args.publish_host, advertise_host=args.advertise_host, max_retry_after_s=args.max_wait, timeout_s=args.timeout,
            publish_allow_remote=args.publish_allow_remote, publish_tls=_tls(args),
            verify="none" if args.no_verify else args.verify, bundle_size=args.bundle_size,
            concurrency=args.concurrency, import_chunk=args.import_chunk, import_tiers=args.import_tiers,
            resume=getattr(args, "resume", "auto"), basic_auth=_basic(args), bearer_token=args.bearer_token,
            smart_client_id=args.smart_client_id, smart_key=args.smart_key, smart_kid=args.smart_kid,
            smart_alg=args.smart_alg, smart_scope=args.smart_scope, smart_token_url=args.smart_token_url,
            tls_verify=not args.insecure_no_tls_verify, ca_bundle=args.ca_bundle, submitter=args.submitter,
            aws_role_arn=args.aws_role_arn, aws_kms_key_id=args.aws_kms_key_id, aws_output_s3=args.aws_output_s3,
        )
    state = _state_url(args, args.folder if args.command == "import" else args.out)
    if args.command == "import":
        return JobConfig(load=load, state_url=state)
    return JobConfig(
        id_salt=args.id_salt,
        strictness=Strictness(args.strictness),
        ndjson_max_bytes=args.max_file_mb * 1024 * 1024,
        parquet=not args.no_parquet,
        analyst_tables=not args.no_tables,
        user_views=tuple(str(v) for v in args.views),
        lake_root=str(args.lake) if args.lake else None,
        transaction_time=args.transaction_time,
        source_timezone=args.timezone,
        x12_validate=args.validate,
        state_url=state,
        x12_reprocess=args.reprocess,
        duplicate_control=args.duplicate_control,
        file_mode=args.file_mode,
        follow_symlinks=args.follow_symlinks,
        dicom_since=args.since,
        dicom_until=args.until,
        dicom_endpoint=args.dicom_endpoint,
        load=load,
    )


def _state_url(args: argparse.Namespace, out: Path | str) -> str | None:
    """``--state``, or the default beside the output folder (where 0.1 kept its JSON ledger); for an
    object-storage output, in the working directory."""
    if args.no_state:
        return None
    if isinstance(out, str):
        return str(args.state or Path.cwd() / ".fhirflow-state.db")
    return str(args.state or out.resolve().parent / ".fhirflow-state.db")


def _location(text: str) -> Path | str:
    """A local path as Path; an object-storage or server URL kept as text (Path would fold its ``//``)."""
    from etl.sources.inputs import is_url
    from etl.stage.remote import is_remote, local

    return text if is_remote(text) or is_url(text) else local(text)


def _ledger(args: argparse.Namespace) -> int:
    """``fhirflow ledger list|show|forget|import``: what the run-state database knows of X12
    interchanges (control numbers, digests, files, runs: no claim data)."""
    from etl.state import StateStore
    from etl.state.interchanges import InterchangeRecord
    from etl.state.legacy import import_json_ledger

    def line(r: InterchangeRecord) -> str:
        when = r.loaded_at if r.loaded else r.converted_at
        flag = "" if r.complete else " (partly rejected: never marked loaded)"
        return (f"#{r.id}\t{r.state}\t{when}\tISA06={r.key.isa06}\tISA13={r.key.isa13}\t"
                f"{r.digest[:12] or 'json-ledger'}\t{r.file}{flag}")

    with StateStore.open(args.state) as store:
        ledger = store.interchanges
        cmd = args.ledger_command
        if cmd == "documents":
            return _documents(store, args.only, args.forget)
        if cmd == "import":
            print(f"{import_json_ledger(store, args.file)} interchange(s) taken over from {args.file}")
            return EXIT_OK
        if cmd == "list":
            rows = ledger.all(args.only)
            for r in rows:
                print(line(r))
            print(f"{len(rows)} interchange(s) in {store.url}", file=sys.stderr)
            return EXIT_OK
        if cmd == "forget" and args.all:
            print(f"forgot {ledger.forget()} interchange(s)")
            return EXIT_OK
        if not args.isa13:
            raise ConfigError("ledger forget: name an ISA13 (or #ID), or pass --all")
        if args.isa13.startswith("#"):
            found = ledger.get(int(args.isa13[1:])) if args.isa13[1:].isdigit() else None
            rows = [found] if found is not None else []
        else:
            rows = ledger.find(args.isa13, args.sender)
        if not rows:
            print(f"no interchange {args.isa13} in the ledger", file=sys.stderr)
            return EXIT_FAILED
        if cmd == "show":
            for r in rows:
                print(json.dumps(r.to_dict(), indent=2))
            return EXIT_OK
        if len({r.key.isa06 for r in rows}) > 1 and not args.sender:
            raise ConfigError(f"ledger forget: several senders used ISA13 {args.isa13}; add --sender ISA06")
        print(f"forgot {ledger.forget([r.id for r in rows])} interchange(s)")
        return EXIT_OK


def _documents(store: Any, only: str | None, forget: bool) -> int:
    """``fhirflow ledger documents``: the C-CDA documents the run-state database knows (ids and
    digests, files, runs: no clinical data)."""
    rows = store.documents.all(only)
    if forget:
        print(f"forgot {store.documents.forget([r.id for r in rows])} document(s)")
        return EXIT_OK
    for r in rows:
        when = r.loaded_at if r.loaded else r.converted_at
        flag = "" if r.complete else " (a section rejected: never marked loaded)"
        print(f"#{r.id}\t{r.state}\t{when}\t{r.identity}\t{r.identity.digest[:12]}\t{r.file}{flag}")
    print(f"{len(rows)} document(s) in {store.url}", file=sys.stderr)
    return EXIT_OK


def _reporter(quiet: bool) -> Reporter | None:
    """Progress on stderr: rich bars on a terminal, a plain line every 10 s otherwise; none if quiet."""
    if quiet:
        return None
    if sys.stderr.isatty():
        from etl.progress import RichReporter

        return RichReporter()
    from etl.progress import LineReporter

    return LineReporter(sys.stderr)


def _convert(args: argparse.Namespace, config: JobConfig) -> RunSummary:
    import tempfile

    from etl.pipeline import convert
    from etl.sources.inputs import is_url
    from etl.stage import remote

    remote_in = [i for i in args.inputs if isinstance(i, str) and not is_url(i)]  # object storage, not DICOMweb
    if not remote_in and not isinstance(args.out, str):
        summary = convert(args.inputs, args.out, config, progress=_reporter(args.quiet), format_name=args.format)
        print(summary.render())
        print(f"output: {args.out}/ (manifest.json, fhir/, parquet/, errors/)")
        return summary
    if args.command == "run" and isinstance(args.out, str):
        raise ConfigError("fhirflow run loads from a local output folder: convert -o s3://…, then import --publish")
    # Object storage: stage through a local scratch folder (the converter streams local files and
    # publishes with renames); the upload is atomic by generation prefix + pointer (etl.stage.remote).
    with tempfile.TemporaryDirectory(prefix="fhirflow-scratch-") as scratch:
        downloaded = iter(remote.download_inputs(remote_in, Path(scratch)))
        inputs = [next(downloaded) if isinstance(i, str) and not is_url(i) else i for i in args.inputs]
        out = Path(scratch) / "out" if isinstance(args.out, str) else args.out
        if isinstance(args.out, str) and config.run_id is None:
            from dataclasses import replace

            config = replace(config, run_id=args.out)  # the output's name, not the scratch folder's
        summary = convert(inputs, out, config, progress=_reporter(args.quiet), format_name=args.format)
        print(summary.render())
        if isinstance(args.out, str):
            print(f"output: {remote.upload_output(out, args.out)}/ (pointer: {args.out.rstrip('/')}/{remote.POINTER})")
        else:
            print(f"output: {args.out}/ (manifest.json, fhir/, parquet/, errors/)")
    return summary


def _import(folder: Path, config: JobConfig) -> bool:
    """Load ``folder``; False if the server refused some resources (error records written)."""
    from etl.load.importer import import_folder

    report = import_folder(folder, config)
    print(report.render())
    return not report.rejected


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fhirflow`` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "ledger":
            return _ledger(args)
        if args.command == "views":
            return cli_views.main(args)
        if args.command == "mllp":
            return mllp_cli.run(args)
        config = _job_config(args)
        if args.command == "import" and args.cancel:
            from etl.load.resume import cancel_import

            print(cancel_import(args.folder, config))
            return EXIT_OK
        if args.command == "import":
            return EXIT_OK if _import(args.folder, config) else EXIT_REJECTED
        summary = _convert(args, config)
        loaded_all = _import(args.out, config) if args.command == "run" else True
        if not loaded_all:
            print(f"some resources were refused by the FHIR server: see {args.out}/errors/", file=sys.stderr)
        if summary.rejected:
            print(f"{summary.rejected} unit(s) rejected: see {args.out}/errors/", file=sys.stderr)
        if summary.rejected or not loaded_all:
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
    except (StageError, OSError) as exc:  # the machine, once under way: disk full, I/O error
        print(f"fhirflow: {args.command} failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("fhirflow: interrupted; the previous output is still the published one", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
