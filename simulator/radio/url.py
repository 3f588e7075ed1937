"""Which simulated radio a scanner, client or device uses, named by a URL.

``sim://local`` is the in-process link shared by everything in this Python process (tests);
``sim://local/NAME`` is another in-process link, so parallel tests cannot see each other's devices;
``sim://HOST:PORT`` is a fleet process listening on TCP (``vitalsync sim fleet --listen HOST:PORT``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

SCHEME = "sim://"
DEFAULT_RADIO_URL = "sim://local"
# Lets a gateway started without --radio pick the simulated link in tests and CI.
RADIO_URL_ENV = "VITALSYNC_SIM_RADIO"
_LOCAL_HOST = "local"


class RadioUrlError(ValueError):
    """A radio URL that is neither ``sim://local[/NAME]`` nor ``sim://HOST:PORT``."""


@dataclass(frozen=True, slots=True)
class RadioUrl:
    """A parsed radio URL: an in-process link name, or a TCP host and port."""

    link_name: str | None = None
    host: str | None = None
    port: int | None = None

    @property
    def is_local(self) -> bool:
        """True for an in-process link."""
        return self.link_name is not None

    def __str__(self) -> str:
        if self.link_name is not None:
            return DEFAULT_RADIO_URL if self.link_name == "default" else f"{DEFAULT_RADIO_URL}/{self.link_name}"
        return f"{SCHEME}{self.host}:{self.port}"

    @classmethod
    def parse(cls, text: str) -> RadioUrl:
        """Parse ``sim://local``, ``sim://local/NAME`` or ``sim://HOST:PORT``."""
        if not text.startswith(SCHEME):
            raise RadioUrlError(f"radio URL {text!r} must start with {SCHEME}")
        rest = text[len(SCHEME) :].rstrip("/")
        if rest == _LOCAL_HOST:
            return cls(link_name="default")
        if rest.startswith(_LOCAL_HOST + "/"):
            name = rest[len(_LOCAL_HOST) + 1 :]
            if not name or "/" in name:
                raise RadioUrlError(f"radio URL {text!r}: give one link name after sim://local/")
            return cls(link_name=name)
        host, sep, port = rest.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise RadioUrlError(f"radio URL {text!r}: expected sim://local, sim://local/NAME or sim://HOST:PORT")
        return cls(host=host.strip("[]"), port=int(port))


def resolve_radio_url(url: str | RadioUrl | None) -> RadioUrl:
    """The given URL, else ``$VITALSYNC_SIM_RADIO``, else ``sim://local``."""
    if isinstance(url, RadioUrl):
        return url
    return RadioUrl.parse(url or os.environ.get(RADIO_URL_ENV) or DEFAULT_RADIO_URL)
