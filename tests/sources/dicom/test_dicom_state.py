"""The study index in the run-state database (SQLite and PostgreSQL): each run emits the whole study
known so far; re-reading an instance changes nothing; a changed header updates the study."""

from __future__ import annotations

from pathlib import Path

from dicom_helpers import make_instance, resources

from etl.config import JobConfig
from etl.pipeline import convert
from etl.state import StateStore

STUDY = "1.2.826.0.7.1"


def _run(inputs: list[Path], out: Path, state_url: str) -> list[dict[str, object]]:
    convert(inputs, out, JobConfig(id_salt="dicom-state", state_url=state_url))
    return resources(out, "ImagingStudy")


def test_runs_emit_the_union_and_rereads_change_nothing(tmp_path: Path, state_url: str) -> None:
    a = make_instance(tmp_path / "a" / "1.dcm", STUDY, f"{STUDY}.1", f"{STUDY}.1.1")
    b = make_instance(tmp_path / "b" / "2.dcm", STUDY, f"{STUDY}.2", f"{STUDY}.2.1", SeriesNumber="2")
    (one,) = _run([tmp_path / "a"], tmp_path / "o1", state_url)
    (two,) = _run([tmp_path / "b"], tmp_path / "o2", state_url)
    assert one["numberOfInstances"] == 1 and two["numberOfInstances"] == 2 and two["numberOfSeries"] == 2
    (again,) = _run([a, b], tmp_path / "o3", state_url)  # both known already: the same study
    assert again == two
    with StateStore.open(state_url) as store:
        assert store.studies.count(STUDY) == 2
        touched, changed = store.studies.record([], "r", "t")
        assert touched == set() and changed == 0
    # a changed header (the series re-described) updates the study; the instance count stays
    make_instance(tmp_path / "c" / "1.dcm", STUDY, f"{STUDY}.1", f"{STUDY}.1.1", SeriesDescription="FIXED")
    (changed_study,) = _run([tmp_path / "c"], tmp_path / "o4", state_url)
    assert changed_study["numberOfInstances"] == 2
    assert changed_study["series"][0].get("description") == "FIXED"


def test_an_instance_moved_to_another_study_leaves_the_old_one(tmp_path: Path, state_url: str) -> None:
    other = "1.2.826.0.7.2"
    make_instance(tmp_path / "a" / "1.dcm", STUDY, f"{STUDY}.1", f"{STUDY}.1.1")
    make_instance(tmp_path / "a" / "2.dcm", STUDY, f"{STUDY}.1", f"{STUDY}.1.2", InstanceNumber="2")
    _run([tmp_path / "a"], tmp_path / "o1", state_url)
    make_instance(tmp_path / "b" / "2.dcm", other, f"{other}.1", f"{STUDY}.1.2")  # corrected StudyInstanceUID
    studies = {s["identifier"][0]["value"]: s for s in _run([tmp_path / "b"], tmp_path / "o2", state_url)}
    assert studies[f"urn:oid:{STUDY}"]["numberOfInstances"] == 1
    assert studies[f"urn:oid:{other}"]["numberOfInstances"] == 1
