"""Inquiries from every channel other than the PBX: forms, chats, messengers, e-mail."""
