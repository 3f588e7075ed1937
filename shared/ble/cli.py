"""``vitalsync ble decode``: decode one captured characteristic value and print it as JSON."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from shared.ble.errors import BleDecodeError
from shared.ble.registry import decode

app = typer.Typer(
    help="Bluetooth SIG health-device characteristics: decode captured values.",
    no_args_is_help=True,
    add_completion=False,
)

_HEX_HINT = "give the value as hex byte pairs, e.g. '1e 80 00 50 00' or 1E80005000"
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


@app.callback()
def ble() -> None:
    """Bluetooth SIG GATT codecs for health devices (blood pressure, weight, temperature, glucose)."""


@app.command("decode")
def decode_command(
    char: Annotated[
        str,
        typer.Option("--char", help="Characteristic UUID: 16-bit hex (2a35, 0x2A35) or the 128-bit form."),
    ],
    hex_value: Annotated[
        list[str],
        typer.Argument(metavar="HEX...", help="The value as hex, in one or more arguments, spaces allowed."),
    ],
) -> None:
    """Print the decoded value as JSON; a malformed value prints one line to stderr and exits 2."""
    try:
        value = decode(char, parse_hex(hex_value))
    except BleDecodeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(value.to_json(), indent=2, allow_nan=False, ensure_ascii=False))


def parse_hex(parts: list[str]) -> bytes:
    """Bytes from hex text split over arguments and spaces (an optional 0x prefix per argument)."""
    digits = "".join(part[2:] if part[:2].lower() == "0x" else part for part in " ".join(parts).split())
    for position, digit in enumerate(digits):
        if digit not in _HEX_DIGITS:
            raise BleDecodeError("hex", f"{digit!r} is not a hex digit", position // 2, _HEX_HINT)
    if len(digits) % 2:
        raise BleDecodeError("hex", f"odd number of hex digits ({len(digits)})", detail=_HEX_HINT)
    return bytes.fromhex(digits)
