"""Server-rendered SVG charts of the analytics: no chart library, no CDN.

``bars``: inquiries per group with the missed part darker; ``daily``: inquiries
per day (bars) and the missed share (a line on its own 0-100 % scale).
"""

from __future__ import annotations

from html import escape
from typing import Any

WIDTH, HEIGHT, PAD, BOTTOM = 720, 260, 36, 56
INK, SOFT, BAD, LINE = "#1f2a44", "#9bb7ee", "#d64545", "#e08a00"


def _label(key: Any) -> str:
    return "без рекламы" if key is None else str(key)


def bars(rows: list[dict[str, Any]], *, title: str) -> str:
    """One bar per group: inquiries, with its missed calls drawn over it."""
    top = max((r["inquiries"] for r in rows), default=0) or 1
    slot = (WIDTH - 2 * PAD) / max(len(rows), 1)
    plot_h = HEIGHT - PAD - BOTTOM
    parts = [_open(title)]
    for n, row in enumerate(rows):
        x = PAD + n * slot + slot * 0.15
        w = slot * 0.7
        h = plot_h * row["inquiries"] / top
        mh = plot_h * row["missed"] / top
        base = HEIGHT - BOTTOM
        label = escape(_label(row["key"]))
        parts.append(f'<g class="bar" data-key="{label}"><title>{label}: {row["inquiries"]} обращений, '
                     f'{row["missed"]} пропущено</title>'
                     f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{SOFT}"/>'
                     f'<rect x="{x:.1f}" y="{base - mh:.1f}" width="{w:.1f}" height="{mh:.1f}" fill="{BAD}"/>'
                     f'<text x="{x + w / 2:.1f}" y="{base - h - 4:.1f}" text-anchor="middle" font-size="12" '
                     f'fill="{INK}">{row["inquiries"]}</text>'
                     f'<text x="{x + w / 2:.1f}" y="{base + 16:.1f}" text-anchor="middle" font-size="11" '
                     f'fill="{INK}">{label[:18]}</text></g>')
    parts.append(_legend([(SOFT, "обращения"), (BAD, "пропущенные звонки")]))
    parts.append("</svg>")
    return "".join(parts)


def daily(rows: list[dict[str, Any]], *, title: str) -> str:
    """Inquiries per day as bars, the missed share as a line (right-hand scale 0-100 %)."""
    top = max((r["inquiries"] for r in rows), default=0) or 1
    slot = (WIDTH - 2 * PAD) / max(len(rows), 1)
    plot_h = HEIGHT - PAD - BOTTOM
    base = HEIGHT - BOTTOM
    parts = [_open(title)]
    points = []
    for n, row in enumerate(rows):
        x = PAD + n * slot
        h = plot_h * row["inquiries"] / top
        parts.append(f'<rect class="day" data-day="{escape(str(row["key"]))}" x="{x + slot * 0.1:.1f}" '
                     f'y="{base - h:.1f}" width="{slot * 0.8:.1f}" height="{h:.1f}" fill="{SOFT}">'
                     f'<title>{escape(str(row["key"]))}: {row["inquiries"]}</title></rect>')
        if row["missed_share"] is not None:
            points.append(f"{x + slot / 2:.1f},{base - plot_h * row['missed_share']:.1f}")
        if len(rows) <= 16 or n % max(len(rows) // 8, 1) == 0:
            parts.append(f'<text x="{x + slot / 2:.1f}" y="{base + 16}" text-anchor="middle" font-size="11" '
                         f'fill="{INK}">{escape(str(row["key"])[5:])}</text>')
    if points:
        parts.append(f'<polyline class="missed-share" points="{" ".join(points)}" fill="none" '
                     f'stroke="{LINE}" stroke-width="2"/>')
    parts.append(f'<text x="{WIDTH - 4}" y="{PAD}" text-anchor="end" font-size="11" fill="{LINE}">100 %</text>')
    parts.append(_legend([(SOFT, "обращения в день"), (LINE, "доля пропущенных")]))
    parts.append("</svg>")
    return "".join(parts)


def _open(title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
            f'aria-label="{escape(title)}" font-family="sans-serif">'
            f'<text x="{PAD}" y="20" font-size="14" font-weight="bold" fill="{INK}">{escape(title)}</text>'
            f'<line x1="{PAD}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - PAD}" y2="{HEIGHT - BOTTOM}" stroke="{INK}"/>')


def _legend(items: list[tuple[str, str]]) -> str:
    out, x = [], PAD
    for color, text in items:
        out.append(f'<rect x="{x}" y="{HEIGHT - 22}" width="12" height="12" fill="{color}"/>'
                   f'<text x="{x + 16}" y="{HEIGHT - 12}" font-size="12" fill="{INK}">{escape(text)}</text>')
        x += 40 + 8 * len(text)
    return "".join(out)
