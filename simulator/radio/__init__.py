"""A bleak backend on a simulated Bluetooth LE radio (Bumble virtual controllers).

``BleakScanner(backend=BumbleScanner, radio=url)`` and ``BleakClient(device, backend=BumbleClient)``
drive a Bumble central; simulated devices (:mod:`simulator.devices`) are Bumble peripherals on the
same link. ``url`` is ``sim://local`` (in-process), ``sim://local/NAME`` (a separate in-process link)
or ``sim://HOST:PORT`` (a fleet process serving its link over TCP, see :class:`LinkServer`).
"""

from simulator.radio.central import SimCentral, close_central, close_centrals
from simulator.radio.client import BumbleClient
from simulator.radio.errors import SimDisconnectedError
from simulator.radio.link import LinkServer, SimController, allocate_address, create_host, local_link
from simulator.radio.scanner import BumbleScanner, SimPeer
from simulator.radio.url import DEFAULT_RADIO_URL, RADIO_URL_ENV, RadioUrl, RadioUrlError, resolve_radio_url

__all__ = [
    "DEFAULT_RADIO_URL",
    "RADIO_URL_ENV",
    "BumbleClient",
    "BumbleScanner",
    "LinkServer",
    "RadioUrl",
    "RadioUrlError",
    "SimCentral",
    "SimController",
    "SimDisconnectedError",
    "SimPeer",
    "allocate_address",
    "close_central",
    "close_centrals",
    "create_host",
    "local_link",
    "resolve_radio_url",
]
