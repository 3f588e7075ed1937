"""The launcher's one error type: a single line naming the cause and the fix."""


class StackError(RuntimeError):
    """Raised for any start-up or shutdown failure; the CLI prints it and exits non-zero."""
