"""Which bleak backend the gateway runs on: BlueZ (``backend=None``) or the simulator's, injected.

``--radio bluez`` is production: bleak picks its platform backend (BlueZ over D-Bus on Linux).
``--radio sim://HOST:PORT`` (or ``sim://local[/NAME]`` in tests) injects the Bumble backend of
:mod:`simulator.radio`, imported only then, so a production gateway never loads Bumble. Everything
else in the gateway speaks bleak's public API only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

BLUEZ = "bluez"
SIM_SCHEME = "sim://"


class RadioError(ValueError):
    """A ``--radio`` value that is neither ``bluez`` nor a ``sim://`` URL."""


@dataclass(frozen=True, slots=True)
class Radio:
    """The bleak backends to pass as ``backend=`` (None = bleak's platform default)."""

    url: str
    scanner_backend: Any = None
    client_backend: Any = None

    @property
    def simulated(self) -> bool:
        """Whether this is the Bumble simulator."""
        return self.url.startswith(SIM_SCHEME)

    async def close(self) -> None:
        """Release what the backend holds in this event loop (the simulator's central)."""
        if self.simulated:
            from simulator.radio import close_centrals

            await close_centrals()


def open_radio(url: str) -> Radio:
    """The backends for ``url`` (``bluez`` or ``sim://...``); raises RadioError for anything else."""
    if url == BLUEZ:
        return Radio(url)
    if url.startswith(SIM_SCHEME):
        from simulator.radio import BumbleClient, BumbleScanner, RadioUrlError, resolve_radio_url

        try:
            normalized = str(resolve_radio_url(url))
        except RadioUrlError as error:
            raise RadioError(str(error)) from error
        return Radio(normalized, BumbleScanner.for_radio(normalized), BumbleClient.for_radio(normalized))
    raise RadioError(f"--radio must be 'bluez' or a sim:// URL (sim://HOST:PORT, sim://local), not {url!r}")
