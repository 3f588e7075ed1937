"""The LegacyHash value (one imported user's legacy password hash) and the scheme interface."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

from shared.legacy.hashing.errors import LegacyHashErrorCode, LegacyHashFormatError

RandomBytes = Callable[[int], bytes]
ParamValue = int | str

_REDACTED = "<redacted>"


@dataclass(frozen=True, slots=True, repr=False)
class LegacyHash:
    """One user's legacy password hash as imported: scheme name, hash, salt and scheme parameters.

    `hash` and `salt` are standard padded base64 text, except for self-describing strings (bcrypt
    `$2b$...`, argon2 `$argon2id$...`) where `hash` is that string and `salt` is None. `params`
    holds canonical values: integers, and base64 text for byte parameters. Build values with
    `from_record` (import) or a scheme's `generate` (emulator, tests), which validate the shape;
    values built directly (e.g. from a database row) are re-checked by `verify` before any work.
    """

    scheme: str
    hash: str
    salt: str | None = None
    params: Mapping[str, ParamValue] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        # Copy and freeze the params so a caller's later dict mutation cannot change a stored value.
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    @classmethod
    def from_record(
        cls,
        scheme: str,
        hash: str,
        salt: str | None = None,
        params: Mapping[str, object] | None = None,
    ) -> LegacyHash:
        """Validate an import record's hash fields into a canonical value; raise LegacyHashFormatError."""
        # Imported here: the registry's schemes build LegacyHash values, so it cannot load first.
        from shared.legacy.hashing.registry import get_scheme

        if params is None:
            params = {}
        if not isinstance(params, Mapping) or not all(isinstance(name, str) for name in params):
            raise LegacyHashFormatError(
                LegacyHashErrorCode.INVALID_PARAMS,
                "params must be an object with string keys",
                field="params",
            )
        return get_scheme(scheme).parse(hash, salt, params)

    def __repr__(self) -> str:
        # Hash, salt and byte parameters (Firebase signer key) stay out of logs and tracebacks.
        shown = {name: value if isinstance(value, int) else _REDACTED for name, value in self.params.items()}
        salt = None if self.salt is None else _REDACTED
        return f"LegacyHash(scheme={self.scheme!r}, hash={_REDACTED}, salt={salt}, params={shown!r})"


class LegacyHashScheme(Protocol):
    """One legacy hash algorithm: shape checks at import, verify at first login, generate for the emulator."""

    name: str

    def parse(self, hash: object, salt: object, params: Mapping[str, object]) -> LegacyHash:
        """Validate loose record fields and return the canonical LegacyHash."""
        ...

    def verify(self, password: str, legacy: LegacyHash, key: bytes | None = None) -> bool:
        """Tell whether password matches legacy, in constant time with respect to the stored hash."""
        ...

    def generate(
        self,
        password: str,
        *,
        salt: bytes | None = None,
        params: Mapping[str, object] | None = None,
        key: bytes | None = None,
        rng: RandomBytes = secrets.token_bytes,
    ) -> LegacyHash:
        """Hash password the way the legacy platform did; deterministic when salt is given."""
        ...
