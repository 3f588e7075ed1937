"""Gateway settings: environment (``VITALSYNC_GATEWAY_*``), an optional YAML file, then CLI options.

Precedence, lowest first: defaults, the environment, ``--config FILE`` (keys are the field names
below, e.g. ``radio: sim://127.0.0.1:8765``), command-line options. The password is best given as
``VITALSYNC_GATEWAY_PASSWORD`` (it does not then show in ``ps``).
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_STATE_DIR = Path.home() / ".local" / "state" / "vitalsync-gateway"
QUEUE_FILE = "queue.sqlite3"
_OFFSET = re.compile(r"^(?:UTC)?([+-])(\d{2}):?(\d{2})$")


class ConfigFileError(ValueError):
    """A ``--config`` file that is not a YAML mapping of known settings."""


class GatewaySettings(BaseSettings):
    """Everything ``vitalsync gateway run`` reads."""

    model_config = SettingsConfigDict(env_prefix="VITALSYNC_GATEWAY_", extra="forbid")

    radio: str = "bluez"
    api_url: str = "http://127.0.0.1:8080"
    user: str | None = None
    password: SecretStr | None = None
    state_dir: Path = DEFAULT_STATE_DIR
    max_concurrent: int = Field(default=4, ge=1, le=64)
    once: bool = False
    scan_s: float = Field(default=5.0, ge=0)
    revisit_s: float = Field(default=300.0, ge=0)
    seen_ttl_s: float = Field(default=30.0, gt=0)
    drain_timeout_s: float = Field(default=300.0, gt=0)
    first_record_s: float = Field(default=3.0, gt=0)
    record_idle_s: float = Field(default=1.0, gt=0)
    racp_idle_s: float = Field(default=15.0, gt=0)
    connect_attempts: int = Field(default=3, ge=1, le=10)
    batch_size: int = Field(default=500, ge=1, le=500)
    metrics_host: str = "127.0.0.1"
    # -1 disables the metrics endpoint; 0 picks a free port (logged at start)
    metrics_port: int = Field(default=9464, ge=-1, le=65535)
    timezone: str | None = None
    source_address: str | None = None
    progress: Literal["auto", "live", "log", "none"] = "auto"
    log_level: str = "INFO"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            resolve_zone(value)
        return value

    @property
    def queue_path(self) -> Path:
        """The SQLite file of the offline queue."""
        return self.state_dir / QUEUE_FILE

    @property
    def zone(self) -> dt.tzinfo:
        """The time zone device clocks are set to and their time stamps are read in."""
        return resolve_zone(self.timezone)


def resolve_zone(name: str | None) -> dt.tzinfo:
    """An IANA zone (``Asia/Tokyo``), a fixed offset (``+09:00``, ``UTC``), or None for this machine's."""
    if name is None:
        zone = dt.datetime.now().astimezone().tzinfo
        assert zone is not None
        return zone
    if name.upper() in ("UTC", "Z"):
        return dt.UTC
    match = _OFFSET.match(name.strip())
    if match:
        sign, hours, minutes = match.groups()
        delta = dt.timedelta(hours=int(hours), minutes=int(minutes))
        return dt.timezone(-delta if sign == "-" else delta)
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown time zone {name!r}: give an IANA name like Europe/Berlin or +01:00") from error


def load_settings(config_file: Path | None, overrides: dict[str, Any]) -> GatewaySettings:
    """Settings from the environment, then ``config_file``, then ``overrides`` (None values ignored)."""
    values: dict[str, Any] = {}
    if config_file is not None:
        try:
            data = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as error:
            raise ConfigFileError(f"{config_file}: {error}") from error
        if not isinstance(data, dict):
            raise ConfigFileError(f"{config_file}: expected a mapping of settings")
        values.update({str(key).replace("-", "_"): value for key, value in data.items()})
    values.update({key: value for key, value in overrides.items() if value is not None})
    return GatewaySettings(**values)
