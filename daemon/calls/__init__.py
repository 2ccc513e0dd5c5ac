"""Calls: what the PBX's events make of a call, and the call's read side.

Owns the pure derivation of a call from its events (``state``, ``legs``), the
reconciliation against the PBX's statistics, the managers mirrored from the
PBX, the dialled lines and their ad sources, and the CRM commands (click-to-call,
recording links).

May import: ``daemon.domain``, ``daemon.store``, ``adapters.mango`` (the PBX's client).
"""
