"""Errors of the registry's rules."""


class TableRequestError(ValueError):
    """A table the registry does not have, or a breakdown it does not offer; `field` names the parameter."""

    def __init__(self, field, message):
        super().__init__(message)
        self.field = field
