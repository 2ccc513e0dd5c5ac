"""The domain's vocabulary: what every sender's words are turned into.

Owns the vendor-neutral call events (``events``), the ``Inquiry`` and its parts
(``inquiry``), the shape of a delivery to a webhook and its verdicts
(``delivery``), a reply and its outcomes (``replies``), phone numbers and
identifiers (``phones``, ``identifiers``, ``textscan``, ``vcard``), what a call
is, derived from the set of its events (``call_state``, ``legs``: pure functions),
the daemon's own exceptions (``errors``) and how a person reads dates, money and
durations in Russian (``readable``: every report, summary and chart).

May import: the standard library, pydantic, phonenumbers and ``config``. Nothing
else of the daemon's: every other package, and every adapter, imports this one.
"""
