"""Inquiries from every channel other than the PBX: forms, chats, messengers, e-mail.

Owns the inquiry projector (an inquiry → contact, lead, communication; conversations; each
message in ``communication_messages``), the sources' rules, the e-mail poller, the wish step
(what a message says the tourist wants, laid over the lead's wish: ``wish_step``), and replies:
the outbox (``outbox``), its supervised sender (``outbox_sender``), the reply API
(``replies_api``), the out-of-hours auto-reply (``autoreply``) and the providers' delivery
states of our replies (``reply_status``). The channels replies go through are the adapters',
registered in ``daemon.runtime.reply_channels``.

May import: ``daemon.domain``, ``daemon.wishes``, ``daemon.store``, ``daemon.intake`` (to submit),
``daemon.contacts`` (merge), ``daemon.routing`` (office hours), ``daemon.http`` and
``daemon.runtime`` (keys, metrics, reply channels).
"""
