"""Server-rendered SVG charts of the analytics: no chart library, no CDN.

``bars``: inquiries per group with the missed part darker; ``daily``: inquiries per day
(bars, ``07.11`` under them) and the missed share (a line on its own 0-100 % scale);
``sales``: per ad source, leads opened → sales → revenue (the revenue on its own ₽ axis).
Every chart has a value axis with round ticks. Text is at least ``FONT`` units of a
``WIDTH``-unit drawing: the page never shows the drawing narrower than 640 px
(analytics.css), so no label is under 12 px on any screen.
"""

from __future__ import annotations

import math
from datetime import date
from html import escape
from typing import Any

from daemon.domain import readable

WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 720, 320, 64, 72, 40, 74
FONT, TITLE_FONT = 14, 16
INK, GRID, SOFT, BAD, LINE, LEADS, WON, MONEY = (
    "#1f2a44", "#e3e7ef", "#9bb7ee", "#d64545", "#e08a00", "#9bb7ee", "#1f6feb", "#17803d")
LABEL_CHARS = 14
TICKS = 4


def _label(key: Any) -> str:
    return "без рекламы" if key is None else str(key)


def nice_top(value: float, *, whole: bool = False) -> tuple[float, float]:
    """A round top of the axis at or above ``value`` and its tick step (1, 2 or 5 × 10ⁿ; at least 1
    when ``whole``: no quarter of an inquiry)."""
    if value <= 0:
        return (1.0, 1.0) if whole else (1.0, 0.25)
    raw = value / TICKS
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    if whole:
        step = max(step, 1)
    return step * math.ceil(value / step), step


def _count_text(value: float) -> str:
    return f"{value:g}".replace(".", ",")


def bars(rows: list[dict[str, Any]], *, title: str) -> str:
    """One bar per group: inquiries, with its missed calls drawn over it."""
    top, step = nice_top(max((r["inquiries"] for r in rows), default=0), whole=True)
    slot = _plot_w() / max(len(rows), 1)
    parts = [_open(title), _axis(top, step, _count_text, x=LEFT, anchor="end")]
    for n, row in enumerate(rows):
        x, w = LEFT + n * slot + slot * 0.15, slot * 0.7
        label = escape(_label(row["key"]))
        parts.append(f'<g class="bar" data-key="{label}"><title>{label}: {row["inquiries"]} обращений, '
                     f'{row["missed"]} пропущено</title>'
                     f'{_rect(x, w, row["inquiries"] / top, SOFT)}{_rect(x, w, row["missed"] / top, BAD)}'
                     f'{_value(x + w / 2, row["inquiries"] / top, str(row["inquiries"]))}'
                     f'{_under(x + w / 2, label)}</g>')
    parts.append(_legend([(SOFT, "обращения"), (BAD, "пропущенные звонки")]))
    return "".join(parts) + "</svg>"


def daily(rows: list[dict[str, Any]], *, title: str) -> str:
    """Inquiries per day as bars, the missed share as a line (right-hand scale 0-100 %)."""
    top, step = nice_top(max((r["inquiries"] for r in rows), default=0), whole=True)
    slot = _plot_w() / max(len(rows), 1)
    base = HEIGHT - BOTTOM
    parts = [_open(title), _axis(top, step, _count_text, x=LEFT, anchor="end"),
             _axis(1.0, 0.5, lambda v: f"{v * 100:.0f} %", x=WIDTH - RIGHT, anchor="start", color=LINE)]
    points = []
    every = 1 if len(rows) <= 10 else math.ceil(len(rows) / 8)
    for n, row in enumerate(rows):
        x = LEFT + n * slot
        day = escape(str(row["key"]))
        parts.append(f'<rect class="day" data-day="{day}" x="{x + slot * 0.1:.1f}" '
                     f'y="{base - _plot_h() * row["inquiries"] / top:.1f}" width="{slot * 0.8:.1f}" '
                     f'height="{_plot_h() * row["inquiries"] / top:.1f}" fill="{SOFT}">'
                     f'<title>{day}: {row["inquiries"]}</title></rect>')
        if row["missed_share"] is not None:
            points.append(f"{x + slot / 2:.1f},{base - _plot_h() * row['missed_share']:.1f}")
        if n % every == 0:
            shown = readable.day_month(date.fromisoformat(str(row["key"])))
            parts.append(f'<text class="date" x="{x + slot / 2:.1f}" y="{base + FONT + 6}" text-anchor="middle" '
                         f'font-size="{FONT}" fill="{INK}">{shown}</text>')
    if points:
        parts.append(f'<polyline class="missed-share" points="{" ".join(points)}" fill="none" '
                     f'stroke="{LINE}" stroke-width="2.5"/>')
    parts.append(_legend([(SOFT, "обращения в день"), (LINE, "доля пропущенных, %")]))
    return "".join(parts) + "</svg>"


def sales(rows: list[dict[str, Any]], *, title: str) -> str:
    """Per ad source: leads opened and sales (left axis, counts), revenue (right axis, ₽)."""
    top, step = nice_top(max((max(r["leads_opened"], r["won"]) for r in rows), default=0), whole=True)
    money_top, money_step = nice_top(max((float(r["revenue"]) for r in rows), default=0))
    slot = _plot_w() / max(len(rows), 1)
    parts = [_open(title), _axis(top, step, _count_text, x=LEFT, anchor="end"),
             _axis(money_top, money_step, readable.money_short, x=WIDTH - RIGHT, anchor="start", color=MONEY)]
    for n, row in enumerate(rows):
        x, w = LEFT + n * slot + slot * 0.1, slot * 0.8 / 3
        label = escape(_label(row["key"]))
        revenue = float(row["revenue"])
        parts.append(f'<g class="source" data-key="{label}"><title>{label}: лидов {row["leads_opened"]}, '
                     f'продаж {row["won"]}, выручка {readable.money(revenue)}</title>'
                     f'{_rect(x, w, row["leads_opened"] / top, LEADS)}{_rect(x + w, w, row["won"] / top, WON)}'
                     f'{_rect(x + 2 * w, w, revenue / money_top, MONEY)}'
                     f'{_value(x + w / 2, row["leads_opened"] / top, str(row["leads_opened"]))}'
                     f'{_value(x + 1.5 * w, row["won"] / top, str(row["won"]))}'
                     f'{_under(x + 1.5 * w, label)}</g>')
    parts.append(_legend([(LEADS, "лиды"), (WON, "продажи"), (MONEY, "выручка, ₽")]))
    return "".join(parts) + "</svg>"


def _plot_w() -> float:
    return WIDTH - LEFT - RIGHT


def _plot_h() -> float:
    return HEIGHT - TOP - BOTTOM


def _rect(x: float, w: float, fraction: float, color: str) -> str:
    h = _plot_h() * fraction
    return f'<rect x="{x:.1f}" y="{HEIGHT - BOTTOM - h:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{color}"/>'


def _value(x: float, fraction: float, text: str) -> str:
    y = HEIGHT - BOTTOM - _plot_h() * fraction - 4
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="middle" font-size="{FONT}" fill="{INK}">{text}</text>'


def _under(x: float, label: str) -> str:
    shown = label if len(label) <= LABEL_CHARS else label[:LABEL_CHARS - 1] + "…"
    return (f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + FONT + 6}" text-anchor="middle" font-size="{FONT}" '
            f'fill="{INK}">{shown}</text>')


def _axis(top: float, step: float, text: Any, *, x: float, anchor: str, color: str = INK) -> str:
    """Ticks from 0 to ``top`` every ``step``: a grid line and its value beside the axis at ``x``."""
    out = []
    dx = -6 if anchor == "end" else 6
    for n in range(round(top / step) + 1):
        value = n * step
        y = HEIGHT - BOTTOM - _plot_h() * value / top
        if anchor == "end":
            out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="{GRID}"/>')
        out.append(f'<text class="tick" x="{x + dx}" y="{y + FONT / 3:.1f}" text-anchor="{anchor}" '
                   f'font-size="{FONT}" fill="{color}">{escape(text(value))}</text>')
    return "".join(out)


def _open(title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
            f'aria-label="{escape(title)}" font-family="sans-serif">'
            f'<text x="{LEFT}" y="22" font-size="{TITLE_FONT}" font-weight="bold" fill="{INK}">{escape(title)}</text>'
            f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}" stroke="{INK}"/>')


def _legend(items: list[tuple[str, str]]) -> str:
    out, x = [], LEFT
    for color, text in items:
        out.append(f'<rect x="{x}" y="{HEIGHT - 24}" width="14" height="14" fill="{color}"/>'
                   f'<text x="{x + 19}" y="{HEIGHT - 12}" font-size="{FONT}" fill="{INK}">{escape(text)}</text>')
        x += 40 + 8 * len(text)
    return "".join(out)
