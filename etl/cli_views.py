"""``fhirflow views run|validate``: SQL-on-FHIR v2 ViewDefinitions from the command line.

``run VIEW... --input DIR --output DIR [--format parquet|ndjson|csv]`` writes ``OUT/<name>.<format>``
per view (VIEW: a ViewDefinition file or a folder of them). ``validate VIEW...`` compiles them and
says what is wrong. Exit status: 0 done; 2 a view is invalid (the message names the view, the
element and what is wrong; nothing is written, by ``run`` either) or a usage error; 1 a view failed
under way on the data (a value that does not fit its column type: no table is written for that
view, the others are).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from etl.errors import ConfigError
from etl.stage.view_table import FORMATS
from etl.stage.views import View, load_view_files

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def add_parser(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Add ``views run|validate`` to the ``fhirflow`` sub-commands (``sub``: argparse's subparsers action)."""
    p = sub.add_parser("views", help="run or validate SQL-on-FHIR ViewDefinitions over FHIR NDJSON")
    vsub = p.add_subparsers(dest="views_command", required=True, parser_class=parser_class)
    run = vsub.add_parser("run", help="one table per view: OUT/<name>.parquet (or .ndjson, .csv)")
    run.add_argument("views", nargs="+", type=Path, metavar="VIEW", help="ViewDefinition JSON files or folders of them")
    run.add_argument("--input", type=Path, required=True, help="folder with *.ndjson / *.ndjson.gz (read recursively)")
    run.add_argument("--output", type=Path, required=True, help="folder for the tables")
    run.add_argument("--format", choices=FORMATS, default="parquet", help="table format (default parquet)")
    run.add_argument("--typed-dates", action="store_true",
                     help="add an Arrow date column x_date beside each date/dateTime column x (full dates only)")
    run.add_argument("--run-id", default="", help="recorded in the Parquet metadata as fhirflow.run")
    val = vsub.add_parser("validate", help="check ViewDefinitions without running them")
    val.add_argument("views", nargs="+", type=Path, metavar="VIEW", help="ViewDefinition JSON files or folders of them")


def compile_all(paths: list[Path]) -> list[View]:
    """Every view, or a ConfigError listing each invalid one (one line each)."""
    problems: list[str] = []
    views: list[View] = []
    for p in paths:
        try:
            views += load_view_files([p])
        except ConfigError as exc:
            problems.append(str(exc))
    if not problems:
        try:
            load_view_files(paths)  # names must be distinct across all of them
        except ConfigError as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigError("\n".join(problems))
    return views


def main(args: argparse.Namespace) -> int:
    try:
        views = compile_all(args.views)
    except ConfigError as exc:
        for line in str(exc).splitlines():
            print(f"fhirflow views: {line}", file=sys.stderr)
        return EXIT_USAGE
    if args.views_command == "validate":
        for v in views:
            print(f"ok {v.name}: {v.resource}, {len(v.columns)} columns")
        return EXIT_OK
    from etl.stage.view_run import run_views

    try:
        report = run_views(views, args.input, args.output, args.format, run=args.run_id, typed_dates=args.typed_dates)
    except ConfigError as exc:
        print(f"fhirflow views: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for name, rows in report.rows.items():
        print(f"{name}: {rows} rows -> {args.output / f'{name}.{args.format}'}")
    print(f"read {report.resources} resources from {report.files} file(s)", file=sys.stderr)
    if report.unreadable:
        print(f"fhirflow views: {len(report.unreadable)} line(s) are not JSON objects, skipped: "
              f"{', '.join(report.unreadable[:5])}", file=sys.stderr)
    for name, why in report.failed.items():
        print(f"fhirflow views: {why} (no table written for {name})", file=sys.stderr)
    if report.definition_errors:
        return EXIT_USAGE
    return EXIT_FAILED if report.failed or report.unreadable else EXIT_OK
