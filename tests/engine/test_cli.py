"""``kuzet replay`` writes alerts.ndjson as FORMAT.md says; ``kuzet score`` reads it back and scores it."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from kuzet.cli import app
from tests.conftest import EXAMPLES


def test_replay_then_score_an_example_bundle(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "alerts.ndjson"
    result = runner.invoke(app, ["replay", str(EXAMPLES / "clean"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines and set(lines[0]) == {"subject", "type", "target", "start", "end", "raised_at", "severity",
                                       "confidence", "late", "evidence"}
    scored = runner.invoke(app, ["score", str(EXAMPLES / "clean"), str(out), "--json"])
    assert scored.exit_code == 0, scored.output
    figures = json.loads(scored.output)
    assert figures["precision"] >= 0.95 and figures["recall"] >= 0.98
    text = runner.invoke(app, ["score", str(EXAMPLES / "clean"), str(out)])
    assert "precision" in text.output and "p95 latency" in text.output


def test_replay_refuses_an_unknown_engine_and_a_missing_bundle(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["replay", str(EXAMPLES / "clean"), "--engine", "magic"]).exit_code == 2
    missing = runner.invoke(app, ["replay", str(tmp_path / "nope"), "--out", str(tmp_path / "a.ndjson")])
    assert missing.exit_code == 2 and "not a directory" in " ".join(missing.output.split())


def test_naive_engine_writes_the_same_format(tmp_path: Path) -> None:
    out = tmp_path / "naive.ndjson"
    result = CliRunner().invoke(app, ["replay", str(EXAMPLES / "hard"), "--engine", "naive", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert all(json.loads(line)["type"] for line in out.read_text().splitlines())
