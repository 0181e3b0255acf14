"""What axe cannot see, checked on one page state in Chromium (issue #16 point 3; used by
tests/e2e/test_universal_design.py on every page state of every role): captions and row headers of data tables,
reflow at 320 CSS px, 200 % zoom, text spacing (WCAG 1.4.12), and a keyboard-only pass with the focus visible.
The page's context needs bypass_csp (a style element is injected for the text spacing)."""
from __future__ import annotations

import time

DESKTOP = {"width": 1280, "height": 720}
# WCAG 1.4.10: content reflows at 320 CSS px (a 1280 px window at 400 %). WCAG 1.4.4: at 200 % zoom a 1280 x 800
# window lays the page out in 640 x 400 CSS px, which is what browser zoom does (the media queries see 640 px);
# deviceScaleFactor only sharpens the pixels and CSS `zoom` leaves the media queries at 1280, so neither is it.
REFLOW = {"width": 320, "height": 640}
ZOOM_200 = {"width": 640, "height": 400}

# What the keyboard reaches (recorded at each focus by a listener, so a Tab press costs one round trip) and how
# the focus looks there: the outline's width and its contrast against the colour behind it (WCAG 2.4.7, 1.4.11),
# computed from the browser's styles: the first ancestor with an opaque background gives the colour behind.
KEYBOARD_SETUP_JS = """() => {
  const rgb = c => (c.match(/[\\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => {
    const lin = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  };
  const name = el => (el.textContent || el.getAttribute('aria-label') || el.name || el.id || el.tagName)
    .trim().replace(/\\s+/g, ' ').slice(0, 40);
  const visible = el => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  const candidates = Array.from(document.querySelectorAll(
      'a[href], button, input, select, textarea, summary, [tabindex]'))
    .filter(el => !el.disabled && el.tabIndex >= 0 && el.type !== 'hidden' && visible(el) && !el.closest('[inert]'));
  // A radio group is one tab stop: it counts as reached when any of its buttons is.
  const key = el => el.type === 'radio' && el.name ? 'radio:' + el.name : null;
  const wanted = new Map();
  candidates.forEach((el, i) => { const k = key(el) || 'stop:' + i; el.dataset.kbdStop = k;
                                  if (!wanted.has(k)) wanted.set(k, name(el)); });
  window.__kbd = {wanted: Object.fromEntries(wanted), reached: {}, invisible: []};
  document.addEventListener('focusin', () => {
    const el = document.activeElement;
    if (!el || !el.dataset || !el.dataset.kbdStop) return;
    window.__kbd.reached[el.dataset.kbdStop] = true;
    const style = getComputedStyle(el);
    let behind = el.parentElement, background = [255, 255, 255];
    while (behind) {
      const c = rgb(getComputedStyle(behind).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) { background = c.slice(0, 3); break; }
      behind = behind.parentElement;
    }
    const [a, b] = [luminance(rgb(style.outlineColor).slice(0, 3)), luminance(background)].sort((x, y) => y - x);
    const contrast = (a + 0.05) / (b + 0.05), width = parseFloat(style.outlineWidth);
    if (style.outlineStyle === 'none' || width < 2 || contrast < 3)
      window.__kbd.invisible.push(
        `${name(el)}: outline ${style.outlineStyle} ${width} px, contrast ${contrast.toFixed(1)}:1`);
  }, true);
  // Start at the top, as someone arriving on the page does (the page may have focused a message): with the body
  // as the starting point the first Tab goes to the first stop, so one round of presses covers the page.
  if (document.activeElement) document.activeElement.blur();
  document.body.tabIndex = -1;
  document.body.focus({preventScroll: true});
  document.body.removeAttribute('tabindex');
  return wanted.size;
}"""
KEYBOARD_RESULT_JS = """() => ({missing: Object.entries(window.__kbd.wanted)
    .filter(([k]) => !window.__kbd.reached[k]).map(([, n]) => n), invisible: window.__kbd.invisible})"""

# Data tables (WCAG 1.3.1): a caption (or a label), a row header in every body row, no empty header cell, and no
# cell that reads only ":" (a withheld number must say so in words).
TABLES_JS = """() => Array.from(document.querySelectorAll('main table:not([role=presentation])')).flatMap((t, i) => {
  const name = t.id ? '#' + t.id : 'table ' + (i + 1);
  const problems = [];
  const caption = t.caption ? t.caption.textContent.trim() : '';
  if (!caption && !t.getAttribute('aria-label') && !t.getAttribute('aria-labelledby'))
    problems.push(name + ': no caption');
  const rows = Array.from(t.tBodies).flatMap(body => Array.from(body.rows));
  // A row of one cell across the table ("Ingen tiltak registrert.") is a message, not data.
  const bare = rows.filter(row => row.cells.length > 1 && !row.querySelector(':scope > th[scope=row]'));
  if (bare.length) problems.push(`${name}: ${bare.length} of ${rows.length} rows without a row header`);
  const empty = Array.from(t.querySelectorAll('th')).filter(th => !th.textContent.trim());
  if (empty.length) problems.push(`${name}: ${empty.length} empty header cells`);
  const colon = Array.from(t.querySelectorAll('td, th')).filter(cell => cell.textContent.trim() === ':');
  if (colon.length) problems.push(`${name}: ${colon.length} cells that read only ":"`);
  return problems;
})"""

# WCAG 1.4.12: with the text spacing a reader may set, no text is cut off by a box that hides what overflows it
# (boxes of a pixel or less are the screen-reader-only texts, clipped on purpose).
TEXT_SPACING_JS = """() => {
  const style = document.createElement('style');
  style.textContent = '* { line-height: 1.5 !important; letter-spacing: 0.12em !important; ' +
    'word-spacing: 0.16em !important; } p { margin-bottom: 2em !important; }';
  document.head.appendChild(style);
  const clipped = [];
  for (const el of document.body.querySelectorAll('*')) {
    const s = getComputedStyle(el);
    if (!/hidden|clip/.test(s.overflowX + ' ' + s.overflowY) && s.textOverflow !== 'ellipsis') continue;
    if (!el.textContent.trim() || el.clientWidth <= 1 || el.clientHeight <= 1) continue;
    if (el.scrollHeight > el.clientHeight + 1 || el.scrollWidth > el.clientWidth + 1)
      clipped.push((el.className || el.tagName) + ': ' + el.textContent.trim().replace(/\\s+/g, ' ').slice(0, 40));
  }
  style.remove();
  return clipped;
}"""
PAGE_WIDTH_JS = "() => [document.documentElement.scrollWidth, window.innerWidth]"


SPENT = {"seconds": 0.0}  # time spent in check(), which the suite prints (the cost of these checks)


def check(page) -> list[str]:
    """Every check below on the page as it is; the viewport is back at DESKTOP afterwards."""
    started = time.monotonic()
    try:
        return _check(page)
    finally:
        SPENT["seconds"] += time.monotonic() - started


def _check(page) -> list[str]:
    problems = list(page.evaluate(TABLES_JS))
    problems += [f"text spacing (1.4.12) clips {text!r}" for text in page.evaluate(TEXT_SPACING_JS)]
    for size, what in ((REFLOW, "at 320 px (reflow)"), (ZOOM_200, "at 200 % zoom")):
        page.set_viewport_size(size)
        width, inner = page.evaluate(PAGE_WIDTH_JS)
        # The document itself must not scroll sideways; a wide table scrolls inside its own container.
        if width > inner + 1:
            problems.append(f"the page scrolls sideways {what}: {width} px wide in {inner} px")
    page.set_viewport_size(DESKTOP)
    return problems + keyboard_pass(page)


def keyboard_pass(page) -> list[str]:
    """Tab from the top through the whole page: every tab stop is reached, and the focus is visible at each."""
    stops = page.evaluate(KEYBOARD_SETUP_JS)
    problems = []
    for _ in range(3):  # more rounds only where a stop takes more presses (a date field: one per part)
        for _ in range(stops):
            page.keyboard.press("Tab")
        result = page.evaluate(KEYBOARD_RESULT_JS)
        if not result["missing"]:
            break
    problems += [f"the keyboard does not reach {name!r}" for name in result["missing"][:5]]
    problems += [f"focus not visible on {text}" for text in result["invisible"][:5]]
    return problems
