"""Routing: a known caller waiting in the IVR is sent to his responsible manager.

``policy`` decides (pure), ``router`` runs it off the webhook's path, and
``context`` opens the PBX client and starts the router with the app.

May import: ``daemon.domain``, ``daemon.store``, ``daemon.runtime`` (keys, metrics) and
``adapters.mango.client`` (the PBX's commands).
"""
