"""Errors of the registry's rules."""


class TableRequestError(ValueError):
    """A table the registry does not have, or a breakdown it does not offer; `field` names the parameter."""

    def __init__(self, field, message):
        super().__init__(message)
        self.field = field


class ReleaseError(ValueError):
    """A release that cannot be cut, found or served as asked; `status` is the HTTP answer it stands for."""

    def __init__(self, message, status=409):
        super().__init__(message)
        self.status = status


class PatternPending(RuntimeError):
    """Another process is searching the suppression pattern a page needs; a reader that will not wait for it gets
    this at once (the page says to reload in a minute)."""
