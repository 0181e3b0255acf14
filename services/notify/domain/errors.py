"""What notify's use cases refuse. The ValueError/LookupError bases are what the handlers turn into a Reject and
the API into a 409."""


class UnknownCase(LookupError):
    """An event about a case notify has not seen opened (parties changed before case.opened)."""


class ForeignCase(ValueError):
    """The case belongs to another office."""


class NotResolvableByHand(ValueError):
    """The reminder resolves itself when the case changes; a person cannot resolve it."""


class InvalidMode(ValueError):
    """A mail choice other than immediate or daily."""


class Cancel(Exception):
    """The mail should no longer go out (reminder resolved, user unsubscribed or gone, consent withdrawn)."""
