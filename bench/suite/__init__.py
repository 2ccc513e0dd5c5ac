"""callbridge's benchmark suite: run with ``python -m bench.suite`` (see ``--help``).

It builds a throw-away PostgreSQL database with a realistic contact base,
starts the real daemon against it, plays whole signed PBX calls at it (closed
and open loop), measures the phone lookup and normalisation on their own, and
writes the numbers with the machine's description into docs/BENCHMARKS.md.
Only 127.0.0.1 is ever contacted; every request loop is bounded in count and time.
"""
