"""Inquiries from every channel other than the PBX: forms, chats, messengers, e-mail.

Owns the inquiry projector (an inquiry → contact, lead, communication; conversations), the
providers' delivery states of our replies (``reply_status``), the sources' rules and the
e-mail poller.

May import: ``daemon.domain``, ``daemon.store``, ``daemon.intake`` (to submit),
``daemon.contacts`` (merge), ``daemon.http`` and ``daemon.runtime`` (keys, metrics).
"""
