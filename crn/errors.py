"""The error type every package raises for bad user input (torch-free, import-cheap)."""


class UserError(Exception):
    """A problem with the user's input: reported by the CLI as one line, without a traceback."""
