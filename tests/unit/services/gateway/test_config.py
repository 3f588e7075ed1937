"""Settings precedence (environment < --config file < options) and time zone parsing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from services.gateway.config import ConfigFileError, load_settings, resolve_zone
from services.gateway.radio import RadioError, open_radio


def test_file_then_options_override_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VITALSYNC_GATEWAY_RADIO", "sim://127.0.0.1:1")
    monkeypatch.setenv("VITALSYNC_GATEWAY_PASSWORD", "from-env")
    config = tmp_path / "gateway.yaml"
    config.write_text("radio: sim://127.0.0.1:8765\nmax-concurrent: 8\nuser: tester\ntimezone: Asia/Tokyo\n")
    settings = load_settings(config, {"max_concurrent": 2, "user": None})
    assert settings.radio == "sim://127.0.0.1:8765"
    assert settings.max_concurrent == 2 and settings.user == "tester"
    assert settings.password is not None and settings.password.get_secret_value() == "from-env"
    assert "from-env" not in repr(settings)
    assert settings.queue_path == settings.state_dir / "queue.sqlite3"


def test_bad_config_files_are_refused(tmp_path: Path) -> None:
    listed = tmp_path / "list.yaml"
    listed.write_text("- radio\n")
    with pytest.raises(ConfigFileError):
        load_settings(listed, {})
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("radioo: bluez\n")
    with pytest.raises(ValueError, match="radioo"):
        load_settings(unknown, {})


def test_time_zones() -> None:
    moment = dt.datetime(2025, 1, 15, 9, 0)
    assert moment.replace(tzinfo=resolve_zone("+09:00")).isoformat() == "2025-01-15T09:00:00+09:00"
    assert moment.replace(tzinfo=resolve_zone("-0530")).isoformat() == "2025-01-15T09:00:00-05:30"
    assert resolve_zone("UTC") is dt.UTC
    assert moment.replace(tzinfo=resolve_zone("Europe/Berlin")).utcoffset() == dt.timedelta(hours=1)
    assert resolve_zone(None).utcoffset(moment) is not None
    with pytest.raises(ValueError, match="unknown time zone"):
        resolve_zone("Mars/Olympus")


def test_radio_choice() -> None:
    assert open_radio("bluez").client_backend is None  # production: bleak's platform backend
    simulated = open_radio("sim://127.0.0.1:8765")
    assert simulated.simulated and simulated.client_backend is not None
    with pytest.raises(RadioError):
        open_radio("hci0")
