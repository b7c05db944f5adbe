"""One typed settings object, from ``KUZET_*`` environment variables and an optional TOML file.

Precedence: environment, then the TOML file named by ``KUZET_CONFIG`` (default ``kuzet.toml`` in the working
directory, if it exists), then the defaults below. A secret left at a placeholder fails fast outside
development mode.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_RETENTION_DAYS = {"positions": 365 * 3, "alerts": 365 * 10, "audit": 365 * 3, "documents": 365 * 10}
_DEV_SECRET = "dev-only-change-me"  # noqa: S105 - a recognisable placeholder, refused outside dev mode


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KUZET_", extra="ignore")

    #: ``dev`` allows placeholder secrets and prints demo logins; ``prod`` refuses them.
    mode: str = "dev"
    var_dir: Path = Path("var")
    database_url: str = ""
    #: ``embedded`` (SQLite journal next to the database) or ``nats://host:port``.
    journal_url: str = "embedded"
    secret_key: str = _DEV_SECRET
    #: Key for field-level encryption of the most sensitive fields (protected persons' addresses).
    field_key: str = _DEV_SECRET
    #: Previous field keys, still accepted for reading until ``kuzet privacy rotate-field-key`` has re-encrypted
    #: everything under ``field_key``. In the environment: comma-separated, or a JSON list.
    field_keys_retired: Annotated[list[str], NoDecode] = Field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 8000
    gateway_host: str = "127.0.0.1"
    tile_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    default_timezone: str = "Asia/Almaty"
    default_locale: str = "ru"
    mqtt_url: str = "mqtt://127.0.0.1:1883"
    mqtt_topic: str = "kuzet/devices/+/reports"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_sender: str = "kuzet@localhost"
    sms_gateway_url: str = ""
    #: Bearer token the SMS gateway expects (empty: no Authorization header).
    sms_gateway_token: str = ""
    webhook_secret: str = _DEV_SECRET
    prison_cost_per_year_kzt: int = 580_000
    #: Days each data category is kept; a file or variable naming some categories keeps the defaults of the rest.
    retention_days: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_RETENTION_DAYS))

    @field_validator("field_keys_retired", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = json.loads(value) if value.lstrip().startswith("[") else value.split(",")
        if isinstance(value, list | tuple):
            return [k.strip() if isinstance(k, str) else k for k in value if not isinstance(k, str) or k.strip()]
        return value

    @model_validator(mode="after")
    def _fill_and_check(self) -> Settings:
        self.retention_days = {**DEFAULT_RETENTION_DAYS, **self.retention_days}
        # The current key is always tried first; listing it as retired as well changes nothing.
        self.field_keys_retired = [k for k in dict.fromkeys(self.field_keys_retired) if k != self.field_key]
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.var_dir / 'kuzet.db').as_posix()}"
        if self.mode != "dev":
            for name in ("secret_key", "field_key", "webhook_secret"):
                if getattr(self, name) == _DEV_SECRET or len(getattr(self, name)) < 16:
                    raise ValueError(f"KUZET_{name.upper()} must be set to a real secret (16+ characters)")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = Path(os.environ.get("KUZET_CONFIG", "kuzet.toml"))
        sources: list[Any] = [init_settings, env_settings]
        if toml_file.exists():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
