"""The messenger webhooks' acknowledgement latency under a mixed load (docs/BENCHMARKS.md)."""
