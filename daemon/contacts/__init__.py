"""The contact base: one contact per person, found by any of his identifiers.

Owns contacts and their identifiers' read side: lookup, the contacts import, duplicate
candidates, journaled merges and their undo, hygiene (invalid identifiers, do-not-call, purge),
and each contact's score, preferred channel and first contact (``score``, ``api_profile``).

May import: ``daemon.domain``, ``daemon.store``, ``daemon.sheets``, ``daemon.http`` (inputs)
and ``daemon.runtime`` (keys).
"""
