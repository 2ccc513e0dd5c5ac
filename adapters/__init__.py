"""Vendor adapters: each turns one sender's wire format into the domain's words (daemon.domain).

Per sender (``adapters/<kind>/``): a pure ``translate`` of a webhook delivery (the PBX's
events, a form, a chat or messenger update) and, for a messenger, its reply channel
(``reply.py``: the provider's send API in the reply contract's words, through the shared
HTTP attempt of ``adapters.replying``). Adapters import only ``daemon.domain`` and ``config``.
"""
