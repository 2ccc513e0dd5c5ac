"""E-mail: a raw RFC 5322 message from an IMAP mailbox becomes an ``Inquiry``.

``parse.parse_email`` is the entry point; ``decode`` turns MIME parts into text
whatever their charset claims, ``phones`` finds a phone written in free text.
"""
