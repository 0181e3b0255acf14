"""Notify's domain: rules free of Flask, the database and the environment (no I/O).

- `rules`: the reminder rules, their thresholds, the dates each counts from, what a consent status means for them
- `wording`: the Norwegian titles and texts of the rules, the case reference
- `delivery`: retry backoff, when a mail is dead, Message-IDs and the keys of digest mails
- `calendar`: Norwegian working days and office hours (when mail may go out)
- `catch_up`: whether the view of the cases has caught up with the events (when the worker may act)
- `errors`: what a use case refuses
"""
from .errors import Cancel, ForeignCase, InvalidMode, NotResolvableByHand, UnknownCase

__all__ = ["Cancel", "ForeignCase", "InvalidMode", "NotResolvableByHand", "UnknownCase"]
