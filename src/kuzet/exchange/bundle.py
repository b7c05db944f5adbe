"""Read and write exchange bundles (a directory of scenario.json, reports.ndjson, alerts.ndjson).

Reading validates everything before anything is used, and an error names the file, the line and the field.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from kuzet.domain.alerts import AlertEpisode
from kuzet.domain.errors import DomainError
from kuzet.domain.plan import MonitoringPlan
from kuzet.domain.reports import DeviceReport


class BundleError(ValueError):
    """A bundle that cannot be read: names the file, and the line and field where known."""

    def __init__(self, path: Path | str, message: str, *, line: int | None = None, field: str | None = None):
        self.path = str(path)
        self.line = line
        self.field = field
        where = self.path + (f", line {line}" if line is not None else "") + (f", field {field}" if field else "")
        super().__init__(f"{where}: {message}")


@dataclass(slots=True)
class Bundle:
    plan: MonitoringPlan
    #: Reports in arrival order, each with its 1-based line number in ``reports.ndjson``.
    reports: list[tuple[int, DeviceReport]] = field(default_factory=list)
    alerts: list[AlertEpisode] = field(default_factory=list)
    truth: list[AlertEpisode] = field(default_factory=list)


def read_plan(path: Path) -> MonitoringPlan:
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise BundleError(path, "file not found") from None
    except orjson.JSONDecodeError as exc:
        raise BundleError(path, f"not valid JSON: {exc}") from None
    try:
        return MonitoringPlan.from_json(data)
    except DomainError as exc:
        raise BundleError(path, exc.message, field=exc.field) from None


def _ndjson(path: Path) -> Iterator[tuple[int, object]]:
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                yield number, orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise BundleError(path, f"not valid JSON: {exc}", line=number) from None


def read_reports(path: Path) -> Iterator[tuple[int, DeviceReport]]:
    """Yield ``(line number, report)`` in file order; raise on the first bad line."""
    for number, obj in _ndjson(path):
        try:
            yield number, DeviceReport.from_json(obj)  # type: ignore[arg-type]
        except DomainError as exc:
            raise BundleError(path, exc.message, line=number, field=exc.field) from None


def read_alerts(path: Path) -> list[AlertEpisode]:
    out = []
    for number, obj in _ndjson(path):
        if not isinstance(obj, dict):
            raise BundleError(path, "an alert must be a JSON object", line=number)
        try:
            out.append(AlertEpisode.from_json(obj))
        except DomainError as exc:
            raise BundleError(path, exc.message, line=number, field=exc.field) from None
    return out


def read_bundle(directory: Path | str, *, with_truth: bool = False) -> Bundle:
    directory = Path(directory)
    if not directory.is_dir():
        raise BundleError(directory, "not a directory")
    plan = read_plan(directory / "scenario.json")
    reports_path = directory / "reports.ndjson"
    reports = list(read_reports(reports_path)) if reports_path.exists() else []
    alerts_path = directory / "alerts.ndjson"
    alerts = read_alerts(alerts_path) if alerts_path.exists() else []
    truth_path = directory / "truth.ndjson"
    truth = read_alerts(truth_path) if with_truth and truth_path.exists() else []
    return Bundle(plan, reports, alerts, truth)


def write_ndjson(path: Path, objects: Iterable[dict[str, object]]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("wb") as fh:
        for obj in objects:
            fh.write(orjson.dumps(obj))
            fh.write(b"\n")
    tmp.replace(path)


def write_bundle(directory: Path | str, bundle: Bundle) -> None:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "scenario.json").write_bytes(orjson.dumps(bundle.plan.to_json(), option=orjson.OPT_INDENT_2))
    write_ndjson(directory / "reports.ndjson", (r.to_json() for _, r in bundle.reports))
    write_ndjson(directory / "alerts.ndjson", (a.to_json() for a in bundle.alerts))
