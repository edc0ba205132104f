from pathlib import Path

from etl.stage.ndjson import NdjsonSink, read_ndjson


def test_one_type_per_file_and_rotation(tmp_path: Path) -> None:
    sink = NdjsonSink(tmp_path, max_bytes=1024)
    for i in range(40):
        sink.write({"resourceType": "Patient", "id": f"{i:032x}", "name": [{"family": "x" * 40}]})
    sink.write({"resourceType": "Encounter", "id": "e" * 32})
    parts = sink.close()
    assert set(parts) == {"Patient", "Encounter"}
    assert len(parts["Patient"]) > 1
    assert sum(n for _, n in parts["Patient"]) == 40
    assert all(p.stat().st_size <= 1024 for p, _ in parts["Patient"])
    assert [p.name for p, _ in parts["Patient"]][:2] == ["Patient.000.ndjson", "Patient.001.ndjson"]


def test_identical_copies_written_once_and_last_version_wins(tmp_path: Path) -> None:
    sink = NdjsonSink(tmp_path, max_bytes=1 << 20)
    pid = "a" * 32
    assert sink.write({"resourceType": "Patient", "id": pid, "gender": "male"})
    assert not sink.write({"resourceType": "Patient", "id": pid, "gender": "male"})
    assert sink.write({"resourceType": "Patient", "id": pid, "gender": "female"})  # an update (ADT^A08)
    sink.write({"resourceType": "Patient", "id": "b" * 32})
    parts = sink.close()
    rows = list(read_ndjson(parts["Patient"][0][0]))
    assert [(r["id"], r.get("gender")) for r in rows] == [(pid, "female"), ("b" * 32, None)]
    assert parts["Patient"][0][1] == 2


def test_id_keys_are_exact() -> None:
    # A key shared by two ids would drop the first resource as "superseded" by the second.
    from etl.stage.seen import key as _key

    fhirflow_id = "0f" * 16
    assert _key(fhirflow_id) == int(fhirflow_id, 16)
    ids = [fhirflow_id, fhirflow_id.upper(), "-" + "0" * 31, "0" * 32, "+" + "0" * 31, "0_" + "0" * 30, "MRN-12345"]
    assert len({_key(i) for i in ids}) == len(ids)


def test_many_distinct_ids_are_all_kept(tmp_path: Path) -> None:
    sink = NdjsonSink(tmp_path, max_bytes=1 << 20)
    for i in range(20_000):
        sink.write({"resourceType": "Claim", "id": f"{i:032x}"})
    sink.write({"resourceType": "Claim", "id": "not-a-hex-id"})
    assert sum(n for _, n in sink.close()["Claim"]) == 20_001
