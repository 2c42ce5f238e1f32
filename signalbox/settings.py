"""One settings object: flags, then ``SIGNALBOX_*`` environment variables, then defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path(".signalbox")


class Settings(BaseSettings):
    """Everything a Signalbox process is configured by. No module reads the environment itself."""

    model_config = SettingsConfigDict(env_prefix="SIGNALBOX_", extra="ignore")

    data_dir: Path = Field(DEFAULT_DATA_DIR, description="Local state: SQLite file, spill files.")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy or plain postgresql:// URL; default a SQLite file in data_dir.",
    )
    catalog: Path = Field(Path("signalbox.toml"), description="Path of the catalog TOML file.")
    api_keys: str = Field("", description="Comma-separated keys apps must present to the router.")
    router_url: str = Field("http://127.0.0.1:8700", description="Where `signalbox route` asks.")
    router_host: str = "127.0.0.1"
    router_port: int = 8700
    router_workers: int = Field(
        1, ge=1, le=64, description="Router processes sharing the port (SO_REUSEPORT)."
    )
    dashboard_host: str = "127.0.0.1"
    dashboard_port: int = 8050
    simulator_host: str = "127.0.0.1"
    simulator_port: int = 8701
    dashboard_auth: str = Field("", description="user:password for the console's basic auth.")
    simulator_url: str | None = Field(
        None, description="Demo only: the simulator the dashboard's 'break provider' control calls."
    )
    raw_retention_days: float = Field(
        7.0, gt=0, description="Raw observations older than this are deleted (rollups stay)."
    )
    log_level: str = "INFO"

    @property
    def effective_database_url(self) -> str:
        """The configured database URL, or the embedded SQLite file under ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'signalbox.db').resolve()}"

    @property
    def router_api_keys(self) -> list[str]:
        """The app-facing keys, parsed; empty means auth is off."""
        return [k.strip() for k in self.api_keys.split(",") if k.strip()]

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with the given (flag) values applied; ``None`` means "not given"."""
        given = {k: v for k, v in overrides.items() if v is not None}
        return self.model_copy(update=given)
