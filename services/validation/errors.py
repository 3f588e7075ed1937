"""Errors of the validator: every one means the validation could not run (the CLI exits 2), never a verdict."""

from __future__ import annotations


class ValidatorError(Exception):
    """Base of the validator's errors; the message says what to fix."""


class LegacyInputError(ValidatorError):
    """The legacy directory or one of its files is missing or not in the export format (DESIGN section 10)."""


class RulesError(ValidatorError):
    """A verdict-rules file that cannot be read or does not follow the rules format."""


class OffsetsError(ValidatorError):
    """An ``--upto-offsets`` value that is not ``PARTITION:OFFSET[,...]``."""
