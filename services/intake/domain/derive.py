"""The report's tables 5 and 6 derived from the contact log and the dates, for the counsellor to confirm.

- period: from the case's start (the earliest of the opening date and the first measure's start) to the closure
  date (or today for an ongoing case); at least one day
- frequency per party: the number of logged contacts with that party over the period, as a rate:
  ≥ 4 a week "daglig", ≥ 1.75 a week "2–3 ganger per uke", ≥ 0.75 a week "ukentlig", ≥ 1.75 a month
  "2–3 ganger per måned", ≥ 0.75 a month "ca. 1 gang per måned", else "mindre enn 1 gang per måned";
  every contact within the first 14 days of a period longer than 28 days: "kun ved oppstart"; none: "aldri".
  With the manager as mentor ("AG er mentor") the employer column says so.
- intensity: the period cut in thirds; ≥ half of the contacts in the first third "mest i begynnelsen", ≥ half in
  the last third "mest på slutten", otherwise "like mye gjennom hele perioden"; no contacts: none. Per party for
  the candidate and the mentor (the report's table 5: `intensity_candidate`, `intensity_mentor`), and over the
  whole log (`intensity`, every party, the employer too)
- forms: every contact form used, per party (`forms_candidate`, `forms_mentor`) and over the whole log (`forms`);
  duration: period length (≤ 91 days, ≤ 183, ≤ 365, more); ongoing "ikke avsluttet"
"""
from __future__ import annotations

from datetime import date

from shared.vocab import codes

DAYS_PER_MONTH = 30.44


def period_start(opened_on: date, measures: list[dict]) -> date:
    starts = [m["from_date"] for m in measures if not m.get("deleted")]
    return min([opened_on] + starts)


def duration_category(start: date, end: date | None) -> str:
    if end is None:
        return "not_closed"
    days = (end - start).days
    if days <= 91:
        return "up_to_3_months"
    if days <= 183:
        return "3_6_months"
    if days <= 365:
        return "6_12_months"
    return "over_12_months"


def frequency(dates: list[date], start: date, end: date) -> str:
    if not dates:
        return "never"
    days = max((end - start).days, 1)
    if days > 28 and all((d - start).days <= 14 for d in dates):
        return "only_at_start"
    per_week = len(dates) / (days / 7)
    per_month = len(dates) / (days / DAYS_PER_MONTH)
    if per_week >= 4:
        return "daily"
    if per_week >= 1.75:
        return "2_3_per_week"
    if per_week >= 0.75:
        return "weekly"
    if per_month >= 1.75:
        return "2_3_per_month"
    if per_month >= 0.75:
        return "monthly"
    return "less_than_monthly"


def intensity(dates: list[date], start: date, end: date) -> str | None:
    if not dates:
        return None
    days = max((end - start).days, 1)
    first = sum(1 for d in dates if (d - start).days < days / 3)
    last = sum(1 for d in dates if (d - start).days >= 2 * days / 3)
    if first * 2 >= len(dates) and first > last:
        return "mostly_beginning"
    if last * 2 >= len(dates) and last > first:
        return "mostly_end"
    return "even"


def contact_summary(contacts: list[dict], measures: list[dict], opened_on: date, closed_on: date | None,
                    today: date, mentor_relation: str) -> dict:
    """The derived ContactSummary of the closure record (shared.events.case.ContactSummary)."""
    live = [c for c in contacts if not c.get("deleted")]
    start = period_start(opened_on, measures)
    end = max(closed_on or today, start)
    in_period = [c for c in live if start <= c["contact_date"] <= end]

    def dates_of(party):
        return [c["contact_date"] for c in in_period if c["party"] == party]

    def forms_of(party=None):
        used = {c["form"] for c in live if party in (None, c["party"])}
        return [f for f in codes("contact_form") if f in used]

    employer = "employer_is_mentor" if mentor_relation == "manager" else frequency(dates_of("employer"), start, end)
    return {
        "frequency_candidate": frequency(dates_of("candidate"), start, end),
        "frequency_mentor": frequency(dates_of("mentor"), start, end),
        "frequency_employer": employer,
        "intensity_candidate": intensity(dates_of("candidate"), start, end),
        "intensity_mentor": intensity(dates_of("mentor"), start, end),
        "forms_candidate": forms_of("candidate"),
        "forms_mentor": forms_of("mentor"),
        "intensity": intensity([c["contact_date"] for c in in_period], start, end),
        "forms": forms_of(),
        "duration": duration_category(start, closed_on),
        "contacts_logged": len(live),
        "minutes_total": sum(c["minutes"] for c in live),
    }
