"""The researchers' charts, drawn from the suppressed tables (never from raw counts) as data for the template
registry/_macros.html: HTML text for every label and value (text size, wraps on a phone instead of shrinking,
read by screen readers), SVG only for the bars, with presentation attributes so the page's CSP ('self', no inline
style) holds. Withheld numbers are drawn as withheld: a hatched segment in the chart and an entry in its legend.

Every colour has at least 3:1 contrast against the card's white (WCAG 1.4.11), and neighbouring segments are parted
by a white gap, so no segment depends on the contrast between two colours."""
from __future__ import annotations

from shared.text import in_language

# Contrast against white: 5.6, 3.6, 7.6, 4.5, 6.9, 7.5, 6.3, 6.9, 4.7, 15.1 (tests/e2e/test_registry_charts.py
# computes it in the browser).
PALETTE = ("#0067c5", "#c77300", "#634689", "#06893a", "#b3005a", "#005b82", "#c30000", "#7a5200", "#3e832d",
           "#262626")
WITHHELD_INK = "#595959"  # the hatching and outline of a withheld segment: 7:1 on white
WITHHELD_WIDTH = 8.0  # per cent of the track a withheld segment takes (its size is unknown, so it is fixed)


def _label(labels: dict, language: str) -> str:
    """A codebook label in the page's language (bokmål where the label has no other)."""
    return in_language(labels, language)


def _width(value, top) -> float:
    return round(max(100.0 * value / top, 0.5), 2) if value else 0.0


def bar_chart(title: str, table: dict, chart_id: str, language: str = "nb") -> dict:
    """One bar per category of a distribution: its total over the units, with its share of n; rows with nothing in
    them are left out."""
    rows = [row for row in table["rows"] if row["total"] != 0]
    top = max((row["total"] for row in rows if row["total"] is not None), default=0) or 1
    return {"id": chart_id, "title": title, "kind": "bar", "colour": PALETTE[0], "withheld_ink": WITHHELD_INK,
            "n": table["totals"]["total"] if table["totals"] else None,
            "has_withheld": any(row["total"] is None for row in rows),
            "rows": [{"label": _label(row["label"], language), "value": row["total"],
                      "percent": row["total_percent"],
                      "width": WITHHELD_WIDTH if row["total"] is None else _width(row["total"], top)}
                     for row in rows]}


def stacked_chart(title: str, table: dict, chart_id: str, language: str = "nb") -> dict:
    """One bar per unit (office), stacked by category in the legend's order; what is withheld in a unit is one
    hatched segment at its end. The bars share one scale (the largest sum shown) so units can be compared."""
    rows = [row for row in table["rows"] if row["total"] != 0]
    series = [{"label": _label(row["label"], language), "colour": PALETTE[k % len(PALETTE)]}
              for k, row in enumerate(rows)]
    sums = [sum(row["cells"][i] or 0 for row in rows) for i in range(len(table["columns"]))]
    top = max(sums + [1])
    room = 100.0 - WITHHELD_WIDTH - 1  # the hatched end sits half a per cent after the last colour
    units = []
    for i, column in enumerate(table["columns"]):
        segments, values, x = [], [], 0.0
        for k, row in enumerate(rows):
            value = row["cells"][i]
            values.append({"label": series[k]["label"], "colour": series[k]["colour"], "value": value})
            if value:
                width = room * value / top
                segments.append({"x": round(x, 2), "width": round(width, 2), "colour": series[k]["colour"],
                                 "label": series[k]["label"], "value": value})
                x += width
        withheld = any(v["value"] is None for v in values)
        units.append({"label": column["label"], "n": table["totals"]["cells"][i] if table["totals"] else None,
                      "segments": segments, "withheld_x": round(x, 2) if withheld else None,
                      "numbers": [v for v in values if v["value"] != 0]})
    return {"id": chart_id, "title": title, "kind": "stacked", "series": series, "units": units,
            "withheld_ink": WITHHELD_INK, "withheld_width": WITHHELD_WIDTH,
            "has_withheld": any(unit["withheld_x"] is not None for unit in units)}


def party_chart(title: str, table: dict, chart_id: str, language: str = "nb") -> dict:
    """Table 5's chart: per category of each group (frequency, intensity, contact forms) a bar for each party over
    the whole filter set, its length the share of n (the parties' n are the same cases); categories with nothing
    for either party are left out."""
    parties = table["parties"]
    series = [{"label": _label(p["label"], language), "colour": PALETTE[k]} for k, p in enumerate(parties)]
    groups, withheld = [], False
    for row in table["rows"]:
        if all(value == 0 for value in row["party_totals"]):
            continue
        if not groups or groups[-1]["code"] != row["group"]:
            groups.append({"code": row["group"], "label": _label(row["group_label"], language), "rows": []})
        bars = []
        for k, (value, percent) in enumerate(zip(row["party_totals"], row["party_percents"], strict=True)):
            withheld = withheld or value is None
            bars.append({"party": series[k]["label"], "colour": series[k]["colour"], "value": value,
                         "percent": percent,
                         "width": WITHHELD_WIDTH if value is None else (
                             round(max(percent or 0.0, 0.5), 2) if value else 0.0)})
        groups[-1]["rows"].append({"label": _label(row["label"], language), "bars": bars})
    return {"id": chart_id, "title": title, "kind": "parties", "series": series, "groups": groups,
            "withheld_ink": WITHHELD_INK, "has_withheld": withheld,
            "n": table["totals"]["total"] if table["totals"] else None}
