"""The analyst tables staged with every batch: the shipped multi-row views (``claim_item``,
``eob_item_adjudication``, ...: every ``schemas/views/<lower_case>.json``) and the analyst's own
(``--views DIR``, the DAG param ``views``), written as ``parquet/<view name>/part-NNN.parquet``, one
part per NDJSON part of the view's resource type, with typed ``*_date`` columns and exact decimals
(:mod:`etl.stage.view_table`), and two lineage columns: ``_resource_id`` (the resource the row
comes from) and ``_row`` (its place among that resource's rows), what the current-state tables
merge on (:mod:`etl.stage.lake`).

:func:`table_views` compiles them all when a run starts, so a bad view stops the run before
anything is converted (exit status 2), never halfway.
"""

from __future__ import annotations

from pathlib import Path

from etl.config import JobConfig
from etl.errors import ConfigError, StageError
from etl.stage.view_run import ViewRunReport as _Report
from etl.stage.view_run import resources
from etl.stage.view_table import TableWriter, view_rows
from etl.stage.views import View, analyst_views, load_view_files


def table_views(config: JobConfig) -> list[View]:
    """The views a run stages: the shipped analyst tables (``config.analyst_tables``) plus
    ``config.user_views``; a ConfigError names the first bad one."""
    views = analyst_views() if config.analyst_tables else []
    if config.user_views:
        mine = load_view_files([Path(p) for p in config.user_views])
        taken = {v.name for v in views}
        for v in mine:
            if v.name in taken:
                raise ConfigError(f"ViewDefinition {v.name!r} (--views): a shipped view has this name; rename yours")
            if v.name[:1].isupper():
                raise ConfigError(f"ViewDefinition {v.name!r} (--views): a name starting upper-case is kept for "
                                  "the per-type tables (parquet/<ResourceType>/); use lower case")
        views += mine
    return views


def write_tables(views: list[View], written: dict[str, list[tuple[Path, int]]], parquet_dir: Path, run: str,
                 file_mode: int) -> dict[str, list[tuple[str, int]]]:
    """``parquet/<view>/part-NNN.parquet`` for each view and NDJSON part of its type; returns the
    parts written per view (path relative to the output, rows)."""
    by_type: dict[str, list[View]] = {}
    for v in views:
        by_type.setdefault(str(v.resource), []).append(v)
    out: dict[str, list[tuple[str, int]]] = {v.name: [] for v in views}
    for rtype, tviews in by_type.items():
        for i, (part, _count) in enumerate(written.get(rtype, [])):
            writers = [TableWriter(v, parquet_dir / v.name / f"part-{i:03d}.parquet", "parquet", run,
                                   typed_dates=True, file_mode=file_mode, lineage=True) for v in tviews]
            try:
                for res, line in resources([part], _Report(), part.parent):
                    rid = res.get("id")
                    for v, w in zip(tviews, writers):
                        rows = view_rows(v, w.conv, res, line)
                        for n, r in enumerate(rows):
                            r["_resource_id"], r["_row"] = rid, n
                        w.add(rows)
                for v, w in zip(tviews, writers):
                    out[v.name].append((f"parquet/{v.name}/part-{i:03d}.parquet", w.close()))
            except (ConfigError, StageError) as exc:
                for w in writers:
                    w.abort()
                raise StageError(f"analyst table {exc}") from None
    return out
