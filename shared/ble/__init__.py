"""Byte-exact Bluetooth SIG GATT codecs for the health devices VitalSync talks to.

The simulator encodes the characteristic values its virtual cuffs, scales, thermometers and glucose meters
send, and the gateway decodes what real and simulated devices send back; both use these value classes
(``from_bytes`` / ``__bytes__`` / ``to_json``) so the two sides cannot drift apart. The package is pure
and synchronous: it never imports bleak, bumble or any other BLE stack, so it runs anywhere and its tests
need no radio. Entry points: :mod:`shared.ble.registry` (UUID -> decoder) and :mod:`shared.ble.cli`.
"""
