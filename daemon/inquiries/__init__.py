"""Inquiries from every channel other than the PBX: forms, chats, messengers, e-mail.

Owns the inquiry projector (an inquiry → contact, lead, communication; conversations), the
sources' rules, the e-mail poller and the wish step (what a message says the tourist wants,
laid over the lead's wish: ``wish_step``).

May import: ``daemon.domain``, ``daemon.wishes``, ``daemon.store``, ``daemon.intake`` (to submit),
``daemon.contacts`` (merge), ``daemon.http`` and ``daemon.runtime`` (keys, metrics).
"""
