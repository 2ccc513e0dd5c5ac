"""Per-field precision, recall and F1 of the wish parser on the labelled requests.

``python -m bench.wishes.quality [--part dev|held-out|all] [--misses FIELD]``

The dev part is what the rules were tuned on; the held-out part (every third record) was
never read while tuning, so its numbers are the honest ones (docs/BENCHMARKS.md).
"""

from __future__ import annotations

import argparse

from tests.support.wishset import SCORED, records, score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("dev", "held-out", "all"), default="held-out")
    parser.add_argument("--misses", help="list the records a field got wrong (dev part only)")
    args = parser.parse_args()
    chosen = [r for r in records() if args.part == "all" or r.held_out == (args.part == "held-out")]
    scores = score(chosen)
    print(f"{args.part}: {len(chosen)} requests")
    print(f"{'field':16} {'labelled':>8} {'precision':>9} {'recall':>7} {'F1':>6}")
    for name in SCORED:
        s = scores[name]
        print(f"{name:16} {s.tp + s.fn:8d} {s.precision:9.3f} {s.recall:7.3f} {s.f1:6.3f}")
    if args.misses:
        if args.part != "dev":
            raise SystemExit("misses are shown for the dev part only: the held-out part is not read while tuning")
        for number, gold, got in scores[args.misses].misses:
            print(f"#{number}: want {gold!r}, got {got!r}")


if __name__ == "__main__":
    main()
