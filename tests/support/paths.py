"""Where things are in the checkout, wherever the test or benchmark that asks lives."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
CHANNEL_FIXTURES = FIXTURES / "channels"
