"""Intake's domain: plain functions free of Flask and the database.

- `rules`: field checks (national ID, organisation number, vocabulary codes, dates) and eligibility
- `states`: the case state machine and which event each transition sends
- `derive`: the report's tables 5 and 6 derived from the contact log and the dates
- `closure`: the closure form's validation (every problem at once, field by field, in Norwegian) and the
  closure record that travels downstream
"""
from .errors import Conflict, Invalid, NotEligible  # noqa: F401
