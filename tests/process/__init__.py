"""The daemon as a real process: `python -m daemon.cli run`, sd_notify, signals, supervision, the CLI."""
