"""The process: settings in, tasks supervised, health out.

Owns the aiohttp application and its cleanup contexts (``app``), the process's
life under systemd (``process``, ``sdnotify``), the supervised background tasks,
``/health``, the metrics registry, SIGHUP reloads, logging, and the typed
application keys.

Two halves. Its base (``keys``, ``metrics``, ``logs``, ``tasks``, ``reload``,
``sdnotify``, and ``reply_channels``, the registry of the adapters' reply channels for
the outbox) imports only the domain and the adapters, and every package may import it. The places
that put the app together (``app``, ``connect``, ``health``, ``process`` and the
``import`` command, ``import_cli``) import every other package, and nothing imports
them but ``daemon.cli`` (tests/unit/test_import_layers.py keeps both true).
"""
