"""The contact import benchmark: ``make bench-import`` (see bench/README.md)."""
