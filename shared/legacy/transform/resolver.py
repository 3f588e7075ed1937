"""How the transform learns who owns a legacy object, and how the reverse names rows in Kii terms.

The transform is pure: it asks an `OwnerResolver` instead of the database. The migration worker
answers from the users and devices tables, the Kii facade from its own session, the validator and
the tests from dictionaries (`InMemoryOwners`). `KiiNames` is the reverse, for `to_kii_object`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from shared.legacy.transform.rows import DeviceRow


class OwnerResolver(Protocol):
    """Legacy identities -> VitalSync ids."""

    def user_id_for(self, legacy_user_id: str) -> str | None:
        """The VitalSync user id of a legacy (Kii) user id, None when the user is not known."""
        ...

    def device_id_for(self, user_id: str, serial: str) -> str | None:
        """The id of that user's device with this serial number, None when there is none."""
        ...

    def thing_device(self, thing_id: str) -> tuple[str, str] | None:
        """(user id, device id) of the device a Kii thing is, None when not known."""
        ...


class KiiNames(Protocol):
    """VitalSync ids -> the names an old app sees (the reverse of `OwnerResolver`)."""

    def kii_user_id(self, user_id: str) -> str | None:
        """The Kii user id the facade shows for a user (the legacy id of a migrated user)."""
        ...

    def device_serial(self, device_id: str) -> str | None:
        """The serial number of a device."""
        ...

    def thing_id(self, device_id: str) -> str | None:
        """The Kii thing id of a device, None when it has none."""
        ...


class InMemoryOwners:
    """Both directions from dictionaries: for tests, the validator and small tools.

    `users` maps legacy user id -> user id; devices are added with `add_device` (a transformed
    device row and, when known, its thing id), as the migration adds them.
    """

    def __init__(self, users: Mapping[str, str] | None = None) -> None:
        self._users: dict[str, str] = dict(users or {})
        self._legacy_ids: dict[str, str] = {user_id: legacy for legacy, user_id in self._users.items()}
        self._devices: dict[tuple[str, str], str] = {}
        self._serials: dict[str, str] = {}
        self._things: dict[str, tuple[str, str]] = {}
        self._device_things: dict[str, str] = {}

    def add_user(self, legacy_user_id: str, user_id: str) -> None:
        """Know one more user."""
        self._users[legacy_user_id] = user_id
        self._legacy_ids[user_id] = legacy_user_id

    def add_device(self, row: DeviceRow, thing_id: str | None = None) -> None:
        """Know one more device (the first device of a user with a serial keeps it)."""
        self._devices.setdefault((row.user_id, row.serial), row.id)
        self._serials[row.id] = row.serial
        if thing_id is not None:
            self._things[thing_id] = (row.user_id, row.id)
            self._device_things[row.id] = thing_id

    def user_id_for(self, legacy_user_id: str) -> str | None:
        """See `OwnerResolver.user_id_for`."""
        return self._users.get(legacy_user_id)

    def device_id_for(self, user_id: str, serial: str) -> str | None:
        """See `OwnerResolver.device_id_for`."""
        return self._devices.get((user_id, serial))

    def thing_device(self, thing_id: str) -> tuple[str, str] | None:
        """See `OwnerResolver.thing_device`."""
        return self._things.get(thing_id)

    def kii_user_id(self, user_id: str) -> str | None:
        """See `KiiNames.kii_user_id`."""
        return self._legacy_ids.get(user_id)

    def device_serial(self, device_id: str) -> str | None:
        """See `KiiNames.device_serial`."""
        return self._serials.get(device_id)

    def thing_id(self, device_id: str) -> str | None:
        """See `KiiNames.thing_id`."""
        return self._device_things.get(device_id)
