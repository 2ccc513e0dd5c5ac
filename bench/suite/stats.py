"""Percentiles of samples, and quantiles of a Prometheus histogram between two scrapes."""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Sequence

_BUCKET = re.compile(r'^(?P<name>\w+)_bucket\{(?P<labels>[^}]*)\} (?P<value>\S+)$')
_LE = re.compile(r'le="([^"]+)"')


def percentile(samples: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); nan for no samples."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    values = [v for v in values if v is not None and not math.isnan(v)]
    return statistics.median(values) if values else math.nan


def histogram(text: str, name: str) -> dict[float, float]:
    """Cumulative bucket counts of histogram ``name``, summed over its other labels."""
    buckets: dict[float, float] = {}
    for line in text.splitlines():
        match = _BUCKET.match(line)
        if not match or match["name"] != name:
            continue
        le = _LE.search(match["labels"])
        if le:
            bound = math.inf if le[1] == "+Inf" else float(le[1])
            buckets[bound] = buckets.get(bound, 0.0) + float(match["value"])
    return buckets


def diff(after: dict[float, float], before: dict[float, float]) -> dict[float, float]:
    return {le: count - before.get(le, 0.0) for le, count in after.items()}


def histogram_quantile(buckets: dict[float, float], q: float) -> float:
    """As PromQL's histogram_quantile: linear within the bucket that holds the rank."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return math.nan
    total = buckets[bounds[-1]]
    rank = q * total
    lower, below = 0.0, 0.0
    for le in bounds:
        count = buckets[le]
        if count >= rank:
            if math.isinf(le):
                return lower
            inside = count - below
            return lower + (le - lower) * ((rank - below) / inside if inside else 0.0)
        lower, below = le, count
    return lower


def share_at_most(buckets: dict[float, float], bound: float) -> float:
    """Exact share of observations <= ``bound`` when ``bound`` is a bucket edge."""
    total = buckets.get(math.inf, 0.0)
    return buckets.get(bound, math.nan) / total if total else math.nan
