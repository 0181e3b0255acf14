"""Consent's domain: rules free of Flask, the database and the environment (no I/O).

- `errors`: ConsentInvalid (field by field, in Norwegian; nothing written) and Conflict (409)
- `signers`: who must sign a purpose in a case (slots), the subject key, whom a withdrawal reaches
- `status`: may a purpose be used today, and which event a change of status sends
- `templates`: a stored template version never changes
- `recording`: the checks of one signed form, every problem at once
- `withdrawal`: the checks of a withdrawal and the data policy it carries
- `uploads`: what a signed document may be, judged by its first bytes
- `audit`: the hash chain of document openings
"""
from .errors import Conflict, ConsentInvalid

__all__ = ["Conflict", "ConsentInvalid"]
