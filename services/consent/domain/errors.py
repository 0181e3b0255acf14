"""The consent service's errors: the web layer turns them into 422 and 409."""
from __future__ import annotations


class ConsentInvalid(ValueError):
    """Bad input: `errors` maps each field to Norwegian messages. Nothing has been written."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("invalid consent input")
        self.errors = errors


class Conflict(ValueError):
    """The request is well formed but cannot be done in the current state (409)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
