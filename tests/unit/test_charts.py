"""The analytics' SVG charts: round value axes, readable text, days as 07.11."""

from __future__ import annotations

import re

import pytest

from daemon.leads import charts


@pytest.mark.parametrize(("value", "top", "step"), [
    (0, 1.0, 0.25), (3, 3, 1), (8, 8, 2), (9, 10, 5), (130, 150, 50), (230000.5, 300000, 100000), (1, 1, 0.5)])
def test_the_axis_ends_at_a_round_value_above_the_data(value: float, top: float, step: float) -> None:
    assert charts.nice_top(value) == (top, step)


def test_a_count_axis_has_whole_ticks() -> None:
    assert charts.nice_top(1, whole=True) == (1, 1)
    assert charts.nice_top(0, whole=True) == (1, 1)
    assert charts.nice_top(3, whole=True) == (3, 1)


def _row(key: str | None, **figures: float) -> dict:
    return {"key": key, "inquiries": 0, "missed": 0, "missed_share": None, "leads_opened": 0, "won": 0,
            "revenue": 0.0} | figures


def test_no_text_is_smaller_than_the_readable_minimum() -> None:
    svg = charts.sales([_row("Яндекс.Директ", leads_opened=4, won=2, revenue=230000.5), _row(None, leads_opened=1)],
                       title="Лиды → продажи → выручка")
    sizes = [int(size) for size in re.findall(r'font-size="(\d+)"', svg)]
    assert sizes and min(sizes) >= charts.FONT
    # Shown no narrower than 640 px (analytics.css), FONT units are at least 12 px.
    assert charts.FONT * 640 / charts.WIDTH >= 12
    assert "без рекламы" in svg and "300 тыс ₽" in svg and "выручка 230 000,50 ₽" in svg


def test_days_are_day_and_month_and_the_share_has_its_own_axis() -> None:
    rows = [_row(f"2026-11-{d:02d}", inquiries=d, missed_share=0.5) for d in range(1, 31)]
    svg = charts.daily(rows, title="По дням")
    shown = re.findall(r'class="date"[^>]*>([^<]+)<', svg)
    assert shown[:2] == ["01.11", "05.11"] and len(shown) <= 10  # a month: every fourth day, no overlap
    assert ">100 %<" in svg and ">0 %<" in svg and ">30<" in svg
