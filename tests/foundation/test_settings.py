"""Settings: environment first, then the TOML file, then defaults; placeholder secrets refused in production."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from kuzet.settings import Settings


def test_default_database_is_a_sqlite_file_under_var(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KUZET_DATABASE_URL", raising=False)
    monkeypatch.delenv("KUZET_CONFIG", raising=False)
    assert Settings().database_url == "sqlite:///var/kuzet.db"


def test_toml_file_is_read_and_environment_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text('database_url = "postgresql+psycopg://db/kuzet"\nport = 9000\n'
                      'default_locale = "kk"\n[retention_days]\npositions = 90\n')
    monkeypatch.setenv("KUZET_CONFIG", str(config))
    monkeypatch.delenv("KUZET_DATABASE_URL", raising=False)
    monkeypatch.setenv("KUZET_PORT", "9100")
    settings = Settings()
    assert settings.database_url == "postgresql+psycopg://db/kuzet"
    assert settings.default_locale == "kk"
    assert settings.retention_days["positions"] == 90
    assert settings.retention_days["audit"] == 365 * 3  # categories the file does not name keep their default
    assert settings.port == 9100  # the environment overrides the file


def test_production_refuses_placeholder_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUZET_CONFIG", raising=False)
    monkeypatch.setenv("KUZET_MODE", "prod")
    with pytest.raises(ValidationError, match="KUZET_SECRET_KEY must be set"):
        Settings()
    monkeypatch.setenv("KUZET_SECRET_KEY", "s" * 32)
    monkeypatch.setenv("KUZET_FIELD_KEY", "f" * 32)
    monkeypatch.setenv("KUZET_WEBHOOK_SECRET", "w" * 32)
    assert Settings().mode == "prod"
