"""Server-side SVG charts from the suppressed tables (never from raw counts): no script, no CDN, no inline CSS,
only presentation attributes, so the page's CSP ('self') holds. Withheld numbers are drawn as withheld."""
from __future__ import annotations

from markupsafe import Markup, escape

PALETTE = ("#0067c5", "#06893a", "#c77300", "#c30000", "#634689", "#005b82", "#a8a8a8", "#3e832d", "#ba3a26",
           "#66a3e0", "#ffaa33", "#262626")
WITHHELD_FILL = "#e0e0e0"


def _text(x, y, text, anchor="start", size=13, weight="normal"):
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" font-family="Arial, sans-serif" '
            f'text-anchor="{anchor}" font-weight="{weight}" fill="#262626">{escape(text)}</text>')


def bar_chart(title, items, chart_id):
    """Horizontal bars: items = [(label, value or None)]; None = withheld (fewer than the threshold)."""
    width, left, bar_h, gap, top = 720, 260, 22, 8, 34
    shown = [v for _l, v in items if v is not None]
    top_value = max(shown) if shown else 1
    height = top + len(items) * (bar_h + gap) + 24
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" id="{chart_id}" role="img" aria-labelledby="{chart_id}-title" '
             f'viewBox="0 0 {width} {height}" width="100%" class="chart">',
             f'<title id="{chart_id}-title">{escape(title)}</title>', _text(0, 20, title, size=15, weight="bold")]
    scale = (width - left - 70) / max(top_value, 1)
    for index, (label, value) in enumerate(items):
        y = top + index * (bar_h + gap)
        parts.append(_text(left - 8, y + bar_h * 0.72, label, anchor="end"))
        if value is None:
            parts.append(f'<rect x="{left}" y="{y}" width="40" height="{bar_h}" fill="{WITHHELD_FILL}"/>')
            parts.append(_text(left + 48, y + bar_h * 0.72, "skjult (få)"))
        else:
            w = max(value * scale, 1 if value else 0)
            parts.append(f'<rect class="bar" x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{PALETTE[0]}">'
                         f'<title>{escape(label)}: {value}</title></rect>')
            parts.append(_text(left + w + 6, y + bar_h * 0.72, str(value)))
    parts.append("</svg>")
    return Markup("".join(parts))


def stacked_chart(title, units, series, chart_id):
    """One bar per unit (office), stacked by category: series = [(category label, [value or None per unit])]."""
    width, left, bar_h, gap, top = 720, 200, 26, 10, 34
    totals = [sum(v for _l, values in series for v in [values[i]] if v) for i in range(len(units))]
    top_value = max(totals + [1])
    legend_rows = (len(series) + 2) // 3
    height = top + len(units) * (bar_h + gap) + 20 + legend_rows * 22
    scale = (width - left - 30) / top_value
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" id="{chart_id}" role="img" aria-labelledby="{chart_id}-title" '
             f'viewBox="0 0 {width} {height}" width="100%" class="chart">',
             f'<title id="{chart_id}-title">{escape(title)}</title>', _text(0, 20, title, size=15, weight="bold")]
    for i, unit in enumerate(units):
        y = top + i * (bar_h + gap)
        parts.append(_text(left - 8, y + bar_h * 0.7, unit, anchor="end"))
        x = left
        withheld = False
        for k, (label, values) in enumerate(series):
            value = values[i]
            if value is None:
                withheld = True
                continue
            if value:
                w = value * scale
                parts.append(f'<rect class="bar" x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" '
                             f'fill="{PALETTE[k % len(PALETTE)]}"><title>{escape(unit)} – {escape(label)}: {value}'
                             f'</title></rect>')
                x += w
        if withheld:
            parts.append(f'<rect x="{x:.1f}" y="{y}" width="24" height="{bar_h}" fill="{WITHHELD_FILL}">'
                         f'<title>{escape(unit)}: noen tall er skjult (få)</title></rect>')
    y0 = top + len(units) * (bar_h + gap) + 10
    for k, (label, _values) in enumerate(series):
        x, y = (k % 3) * 240, y0 + (k // 3) * 22
        parts.append(f'<rect x="{x}" y="{y}" width="14" height="14" fill="{PALETTE[k % len(PALETTE)]}"/>')
        parts.append(_text(x + 20, y + 12, label, size=12))
    parts.append("</svg>")
    return Markup("".join(parts))


def totals_items(table):
    """[(label, row total)] of a distribution table, rows with nothing in them left out."""
    return [(row["label"]["nb"], row["total"]) for row in table["rows"] if row["total"] != 0]


def outcome_chart(table, chart_id="chart-outcome"):
    units = [c["label"] for c in table["columns"]]
    series = [(row["label"]["nb"], row["cells"]) for row in table["rows"] if row["total"] != 0]
    return stacked_chart(table["title"]["nb"] + " per kontor", units, series, chart_id)
