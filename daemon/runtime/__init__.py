"""The process: settings in, tasks supervised, health out.

Owns the aiohttp application and its cleanup contexts (``app``), the process's
life under systemd (``process``, ``sdnotify``), the supervised background tasks,
``/health``, the metrics registry, SIGHUP reloads, logging, and the typed
application keys.

May import: every other package; nothing imports it but the entry point, except
for its keys, metrics and logs.
"""
