"""The exchange format: import then export loses nothing, and bad bundles are refused whole."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import orjson
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from kuzet.exchange import BundleError, read_bundle, write_bundle
from kuzet.exchange.store_io import export_bundle, import_bundle
from kuzet.store.models import DeviceReportRecord, Person
from tests.conftest import example_bundles


def _norm_scenario(path: Path) -> dict:
    data = json.loads(path.read_text())
    for s in data["subjects"]:
        for z in s["zones"]:
            z["grace_s"] = float(z.get("grace_s", 300 if z["kind"] == "inclusion" else 60))
            z["shape"] = {k: (float(v) if isinstance(v, int) else v) for k, v in z["shape"].items()}
        for p in s.get("protected_persons", []):
            p["grace_s"] = float(p["grace_s"])
            p["distance_m"] = float(p["distance_m"])
        s["communication_timeout_s"] = float(s.get("communication_timeout_s", 1800))
    return data


@pytest.mark.parametrize("bundle", example_bundles(), ids=lambda p: p.name)
def test_import_then_export_gives_the_same_bundle(bundle: Path, sessions: sessionmaker[Session],
                                                  tmp_path: Path) -> None:
    data = read_bundle(bundle)
    with sessions() as session, session.begin():
        counts = import_bundle(session, data)
    assert counts["reports"] == len({(r.device, r.seq, r.time) for _, r in data.reports})
    out = tmp_path / "out"
    with sessions() as session:
        write_bundle(out, export_bundle(session))
    assert _norm_scenario(out / "scenario.json") == _norm_scenario(bundle / "scenario.json")
    original = [orjson.loads(line) for line in (bundle / "reports.ndjson").read_bytes().splitlines()]
    exported = [orjson.loads(line) for line in (out / "reports.ndjson").read_bytes().splitlines()]
    # Re-delivered duplicates are stored once; everything else comes back in arrival order, field for field.
    seen, expected = set(), []
    for obj in original:
        key = (obj["device"], obj.get("seq"), obj["time"])
        if key in seen:
            continue
        seen.add(key)
        expected.append({k: v for k, v in obj.items() if v is not None})
    got = [{k: v for k, v in obj.items() if v is not None} for obj in exported]
    assert sorted(got, key=lambda o: (o["received"], o["device"], o["time"])) == sorted(
        expected, key=lambda o: (o["received"], o["device"], o["time"]))


def _copy(bundle: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "bundle"
    shutil.copytree(bundle, dest)
    return dest


def test_unknown_category_is_refused_naming_file_and_field(tmp_path: Path) -> None:
    b = _copy(example_bundles()[0], tmp_path)
    data = json.loads((b / "scenario.json").read_text())
    data["subjects"][1]["category"] = "house_arrest"
    (b / "scenario.json").write_text(json.dumps(data))
    with pytest.raises(BundleError) as info:
        read_bundle(b)
    assert "scenario.json" in str(info.value)
    assert info.value.field == "subjects[1].category"
    assert "house_arrest" in str(info.value)


def test_invalid_geometry_is_refused_naming_the_zone(tmp_path: Path) -> None:
    b = _copy(example_bundles()[0], tmp_path)
    data = json.loads((b / "scenario.json").read_text())
    # A bow-tie polygon: self-intersecting, so not a valid zone.
    data["subjects"][0]["zones"][1]["shape"] = {
        "type": "Polygon", "coordinates": [[[76.90, 43.24], [76.91, 43.25], [76.91, 43.24], [76.90, 43.25],
                                            [76.90, 43.24]]]}
    (b / "scenario.json").write_text(json.dumps(data))
    with pytest.raises(BundleError) as info:
        read_bundle(b)
    assert info.value.field == "subjects[0].zones[1].shape.coordinates"
    assert "Self-intersection" in str(info.value)


def test_malformed_report_line_names_line_and_field(tmp_path: Path) -> None:
    b = _copy(example_bundles()[0], tmp_path)
    lines = (b / "reports.ndjson").read_text().splitlines()
    bad = json.loads(lines[9])
    bad["lat"] = 123.0
    lines[9] = json.dumps(bad)
    lines[20] = lines[20][:30]
    (b / "reports.ndjson").write_text("\n".join(lines) + "\n")
    with pytest.raises(BundleError) as info:
        read_bundle(b)
    assert info.value.line == 10 and info.value.field == "lat"


def test_a_refused_import_writes_nothing(sqlite_sessions: sessionmaker[Session], tmp_path: Path) -> None:
    data = read_bundle(example_bundles()[0])
    with sqlite_sessions() as session, session.begin():
        import_bundle(session, data)
    before = _counts(sqlite_sessions)
    with pytest.raises(ValueError, match="already exists"), sqlite_sessions() as session, session.begin():
        import_bundle(session, read_bundle(example_bundles()[1]), region_code="OTHER")
        import_bundle(session, data)  # the same subjects again: the whole transaction is refused
    assert _counts(sqlite_sessions) == before


def _counts(sessions: sessionmaker[Session]) -> tuple[int, int]:
    with sessions() as session:
        return (session.scalar(select(func.count()).select_from(Person)) or 0,
                session.scalar(select(func.count()).select_from(DeviceReportRecord)) or 0)
