"""The password policy for new passwords (registration, change, reset).

Legacy passwords are not held to it at first login: they were valid on the old platform, and
refusing them would lock out users who did nothing wrong. The policy follows NIST SP 800-63B:
length over composition rules, a block list of the most common choices, nothing derived from the
account's own names.
"""

from __future__ import annotations

from services.auth.errors import WeakPasswordError

_COMMON = frozenset(
    """password password1 password123 12345678 123456789 1234567890 qwerty123 qwertyuiop iloveyou
    11111111 00000000 abc12345 abcd1234 letmein1 welcome1 admin123 sunshine princess football
    baseball monkey123 dragon123 passw0rd p@ssw0rd trustno1 superman master123 changeme""".split()
)


def check_password_policy(password: str, *, min_length: int, max_length: int, names: tuple[str | None, ...]) -> None:
    """Raise WeakPasswordError naming the rule (never echoing the password)."""
    if len(password) < min_length:
        raise WeakPasswordError(f"password must be at least {min_length} characters", {"min_length": min_length})
    if len(password) > max_length:
        raise WeakPasswordError(f"password must be at most {max_length} characters", {"max_length": max_length})
    if not password.strip() or len(set(password)) < 3:
        raise WeakPasswordError("password must not be blank or repeat one or two characters")
    if "\x00" in password:
        raise WeakPasswordError("password must not contain NUL characters")
    lowered = password.lower()
    if lowered in _COMMON:
        raise WeakPasswordError("password is too common")
    for name in names:
        if name and len(name) >= 3 and name.lower() in lowered:
            raise WeakPasswordError("password must not contain the login name or email")
