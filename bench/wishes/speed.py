"""How long the wish parser takes per message: median and p99, warm and on words never seen.

``python -m bench.wishes.speed [--rounds N]``

Every message of the labelled set (tests/fixtures/wishes/requests.txt) is parsed as the
inquiry projector parses it (``parse_inquiry``). «first pass» is each message the first
time (pymorphy3's lemma cache empty: the worst case of a new word); «warm» the later rounds.
"""

from __future__ import annotations

import argparse
import statistics
import time

from daemon.wishes.morph import analyzer, lemmas
from daemon.wishes.parse import parse_inquiry
from tests.support.wishset import records


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    messages = [(text, fields, r.at) for r in records() for text, fields in r.messages()]
    started = time.perf_counter()
    analyzer()
    print(f"pymorphy3 dictionary load: {(time.perf_counter() - started) * 1000:.0f} ms (once per process)")
    lemmas.cache_clear()
    for label, rounds in (("first pass", 1), ("warm", args.rounds)):
        wall: list[float] = []
        cpu: list[float] = []
        for _ in range(rounds):
            for text, fields, at in messages:
                start, start_cpu = time.perf_counter(), time.thread_time()
                parse_inquiry(text, fields, at)
                cpu.append((time.thread_time() - start_cpu) * 1000)
                wall.append((time.perf_counter() - start) * 1000)
        for clock, took in (("wall", wall), ("cpu", cpu)):
            print(f"{label:10} {clock:4}: {len(took)} parses, median {statistics.median(took):.3f} ms, "
                  f"p99 {_quantile(took, 0.99):.3f} ms, max {max(took):.3f} ms")


if __name__ == "__main__":
    main()
