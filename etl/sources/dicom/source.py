"""DICOM metadata as a :class:`etl.sources.base.Source`: instances in, whole studies out.

A unit is one instance (a file, a zip member, a file a DICOMDIR references, a DICOMweb instance).
Mapping an instance validates it (:mod:`etl.sources.dicom.validate`: an invalid UID rejects it with
an error record naming the tag) and records it in the study index of the run-state database
(:mod:`etl.state.studies`); it writes no resource itself. Once every file of the run was read, the
pipeline asks :meth:`DicomSource.after_files` for one more unit per study the run touched, holding
every instance known of it (this run's and earlier runs'), and those map to the resources:
ImagingStudy, Patient, Practitioner, Endpoint. A run without a state database (``--no-state``) keeps
the index in a scratch SQLite file for the run only.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from etl.config import JobConfig
from etl.errors import Location
from etl.fhir.context import MappingContext
from etl.sources.base import Unit
from etl.sources.dicom.model import Instance, Read, Study
from etl.sources.dicom.parse import Reader, looks_like_dicom
from etl.sources.dicom.to_fhir import to_fhir
from etl.sources.dicom.validate import validate_instance
from etl.state.store import StateStore, now
from etl.state.studies import InstanceRow

FLUSH_EVERY = 1000  # instances recorded per transaction


class DicomSource:
    """DICOM Part 10 files (with or without preamble), zip archives of them, DICOMDIR sets and
    DICOMweb servers (``dicomweb+http://HOST/dicom-web``); ``dicom-run:KEY`` emits the studies a DAG
    run's convert tasks touched (:attr:`JobConfig.dicom_defer_studies`)."""

    name = "dicom"
    stateful = True

    def __init__(self, state: StateStore | None = None) -> None:
        self._scratch: Path | None = None
        if state is None:
            self._scratch = Path(tempfile.mkdtemp(prefix="fhirflow-dicom-"))
            state = StateStore.open(self._scratch / "studies.db")
        self._state = state
        self._reader = Reader()
        self._pending: list[InstanceRow] = []
        self._touched: dict[str, str] = {}  # study UID -> the input that last touched it (its errors go there)
        self._run_id = ""

    def sniff(self, head: bytes) -> bool:
        """``DICM`` after a 128-byte preamble, a data set without one, or a zip archive (the only
        format read from archives)."""
        return looks_like_dicom(head) or head[:4] == b"PK\x03\x04"

    def read(self, path: Path, config: JobConfig) -> Iterator[Unit[Read]]:
        self._run_id = config.run_id or ""
        for unit in self._reader.read(path, str(path)):
            if unit.record is not None:
                unit.record.origin = str(path)
            yield unit

    def read_url(self, url: str, config: JobConfig) -> Iterator[Unit[Read]]:
        """The instances of the studies a DICOMweb server lists for the run's window."""
        from etl.sources.dicom.dicomweb import read_server

        self._run_id = config.run_id or ""
        if url.startswith("dicom-run:"):  # no instances: the studies the run's convert tasks touched
            for uid in self._state.studies.touched(url.removeprefix("dicom-run:")):
                self._touched[uid] = url
            return
        for unit in read_server(url, config):
            if unit.record is not None:
                unit.record.origin = url
            yield unit

    def to_fhir(self, record: Read | Study, ctx: MappingContext, config: JobConfig) -> list[dict[str, Any]]:
        if isinstance(record, Study):
            return to_fhir(record, ctx)
        inst = validate_instance(record.instance, ctx)
        self._pending.append(InstanceRow(inst.sop_instance_uid, inst.study_uid, inst.series_uid, inst.to_dict(),
                                         record.file))
        self._touched[inst.study_uid] = record.origin
        if len(self._pending) >= FLUSH_EVERY:
            self._flush()
        return []

    def after_files(self, config: JobConfig) -> Iterator[Unit[Study]]:
        """One unit per study this run touched, in StudyInstanceUID order, each holding every
        instance known of it; its location names the input that last touched it."""
        self._flush()
        if config.dicom_defer_studies:  # a DAG batch: the run's studies task emits them, once
            self._state.studies.mark_touched(config.dicom_defer_studies, self._touched)
            return
        for n, uid in enumerate(sorted(self._touched), 1):
            records = [Instance.from_dict(r) for r in self._state.studies.instances(uid)]
            origin = self._touched[uid]
            where = Location(origin, f"study {n} of the run ((0020,000D) in the excerpt)")
            if not records:  # every instance moved to other studies: nothing left to emit
                continue
            records.sort(key=_study_order)
            endpoint = next((i.wado_base for i in records if i.wado_base), "") or (config.dicom_endpoint or "")
            yield Unit(where, record=Study(uid, records, endpoint), quoted={"(0020,000D)": uid})

    def touched_origin(self, study_uid: str) -> str:
        return self._touched.get(study_uid, "")

    def finish(self, config: JobConfig, out_dir: Path) -> None:
        self.close()

    def close(self) -> None:
        if self._scratch is not None:
            self._state.close()
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def _flush(self) -> None:
        if not self._pending:
            return
        touched, _ = self._state.studies.record(self._pending, self._run_id, now())
        for uid in touched:  # a study an instance moved out of is emitted again, without it
            self._touched.setdefault(uid, self._pending[-1].file)
        self._pending = []


def _study_order(inst: Instance) -> tuple[int, str, int, str]:
    return (int(inst.series_number) if inst.series_number else 1 << 31, inst.series_uid,
            int(inst.instance_number) if inst.instance_number else 1 << 31, inst.sop_instance_uid)
