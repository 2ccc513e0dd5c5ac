"""Calls: what the PBX's events make of a call, and the call's read side.

Owns the reconciliation against the PBX's statistics, the managers mirrored from the
PBX, the dialled lines and their ad sources, and the CRM commands (click-to-call,
recording links).

The derivation of a call from its events is the domain's (``daemon.domain.call_state``):
the intake's pipeline applies it, so it must not live above the intake.

May import: ``daemon.domain``, ``daemon.store``, ``daemon.intake``, ``daemon.report`` (its
windows), ``daemon.contacts``, ``adapters.mango`` (the PBX's client).
"""
