"""What the tests and the benchmarks (``bench/``) share: one of each, never a copy per suite.

Owns the repository's paths (``paths``), loopback ports (``net``), the stand-in PBX (``pbx``) and
the daemon launcher (``daemon``). It may import ``daemon``, ``adapters`` and ``config``; it never
imports a test module, ``tests.conftest`` or ``bench`` (the benchmarks run without pytest).
"""
