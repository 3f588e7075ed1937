"""Parsing of an import record's loose fields (base64 text, JSON or CSV numbers) into checked values."""

from __future__ import annotations

import base64
from collections.abc import Callable, Collection, Mapping

from shared.legacy.hashing.errors import LegacyHashErrorCode, LegacyHashFormatError
from shared.legacy.hashing.limits import MAX_ENCODED_CHARS

Code = LegacyHashErrorCode

# Decimal strings longer than this are refused before int() sees them (CSV exports carry numbers as text).
_MAX_DECIMAL_DIGITS = 12


def format_error(scheme: str, code: LegacyHashErrorCode, field: str, detail: str) -> LegacyHashFormatError:
    """Build a format error whose message names the field and the rule, never the offending value."""
    return LegacyHashFormatError(code, f"{scheme}: {field} {detail}", field=field)


def require_text(value: object, *, scheme: str, code: LegacyHashErrorCode, field: str) -> str:
    """Return value when it is bounded ASCII text, because every encoded field of a record is."""
    if not isinstance(value, str):
        raise format_error(scheme, code, field, "must be a string")
    if len(value) > MAX_ENCODED_CHARS:
        raise format_error(scheme, code, field, f"is longer than {MAX_ENCODED_CHARS} characters")
    if not value.isascii():
        raise format_error(scheme, code, field, "must be ASCII")
    return value


def decode_b64(value: object, *, scheme: str, code: LegacyHashErrorCode, field: str, max_bytes: int) -> bytes:
    """Decode strict standard base64 (padded, no whitespace) so a mangled export is caught at import."""
    text = require_text(value, scheme=scheme, code=code, field=field)
    if len(text) > 4 * -(-max_bytes // 3):
        raise format_error(scheme, code, field, f"decodes to more than {max_bytes} bytes")
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise format_error(scheme, code, field, "is not standard base64 with padding") from None


def encode_b64(raw: bytes) -> str:
    """Encode bytes the way the import format stores them (standard alphabet, padded)."""
    return base64.b64encode(raw).decode("ascii")


def check_param_names(params: Mapping[str, object], allowed: Collection[str], *, scheme: str) -> None:
    """Refuse unexpected parameter names, which usually mean a mis-mapped export column."""
    unexpected = [name for name in params if name not in allowed]
    if unexpected:
        expected = ", ".join(sorted(allowed)) or "none"
        raise format_error(scheme, Code.INVALID_PARAMS, "params", f"has unexpected names (expected: {expected})")


def int_param(
    params: Mapping[str, object],
    name: str,
    *,
    scheme: str,
    minimum: int,
    maximum: int,
    default: int | None = None,
) -> int:
    """Read an integer parameter given as a JSON number or decimal text and check it against its bounds."""
    field = f"params.{name}"
    value = params.get(name, default)
    if value is None:
        raise format_error(scheme, Code.INVALID_PARAMS, field, "is required")
    if isinstance(value, bool):
        raise format_error(scheme, Code.INVALID_PARAMS, field, "must be an integer")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= _MAX_DECIMAL_DIGITS:
        number = int(value)
    else:
        raise format_error(scheme, Code.INVALID_PARAMS, field, "must be an integer")
    if not minimum <= number <= maximum:
        raise format_error(scheme, Code.INVALID_PARAMS, field, f"must be between {minimum} and {maximum}")
    return number


def b64_param(
    params: Mapping[str, object],
    name: str,
    *,
    scheme: str,
    max_bytes: int,
    min_bytes: int = 0,
    default: str | None = None,
) -> tuple[str, bytes]:
    """Read a base64 parameter, returning the canonical text to store and the bytes to compute with."""
    field = f"params.{name}"
    value = params.get(name, default)
    if value is None:
        raise format_error(scheme, Code.INVALID_PARAMS, field, "is required")
    raw = decode_b64(value, scheme=scheme, code=Code.INVALID_PARAMS, field=field, max_bytes=max_bytes)
    if len(raw) < min_bytes:
        raise format_error(scheme, Code.INVALID_PARAMS, field, f"must decode to at least {min_bytes} bytes")
    return encode_b64(raw), raw


def choice_param(
    params: Mapping[str, object], name: str, *, scheme: str, choices: Collection[str], default: str
) -> str:
    """Read a parameter that must be one of a few names (e.g. a bcrypt or argon2 variant)."""
    value = params.get(name, default)
    if not isinstance(value, str) or value not in choices:
        expected = ", ".join(sorted(choices))
        raise format_error(scheme, Code.INVALID_PARAMS, f"params.{name}", f"must be one of: {expected}")
    return value


def encode_password(password: str) -> bytes | None:
    """UTF-8 bytes of the password exactly as typed, or None when it has no UTF-8 form.

    No Unicode normalisation (NFC/NFKC) is applied: the legacy platform hashed the bytes its client
    sent, so normalising here would lock out users whose keyboard produced decomposed characters.
    Text with lone surrogates cannot have been hashed as UTF-8, so no stored hash can match it.
    """
    if not isinstance(password, str):
        raise TypeError("password must be str")
    try:
        return password.encode("utf-8")
    except UnicodeEncodeError:
        return None


def draw_random(rng: Callable[[int], bytes], size: int) -> bytes:
    """Draw size random bytes from the injected source, refusing a source that returns the wrong length."""
    raw = rng(size)
    if not isinstance(raw, bytes) or len(raw) != size:
        raise ValueError(f"rng must return exactly {size} bytes")
    return raw
