"""The VPBX API signature: lowercase hex SHA-256 of key + json + salt (not an HMAC)."""

from __future__ import annotations

import hashlib
import hmac


def sign(api_key: str, json_text: str, api_salt: str) -> str:
    """Sign the ``json`` form value exactly as it is sent (its UTF-8 bytes)."""
    return hashlib.sha256((api_key + json_text + api_salt).encode("utf-8")).hexdigest()


def verify(*, api_key: str, api_salt: str, sent_key: str, json_text: str, sent_sign: str) -> bool:
    """Check key and sign in constant time, over the raw ``json`` value (never re-serialised)."""
    expected = sign(api_key, json_text, api_salt)
    key_ok = hmac.compare_digest(sent_key.encode("utf-8"), api_key.encode("utf-8"))
    sign_ok = hmac.compare_digest(sent_sign.lower().encode("utf-8"), expected.encode("utf-8"))
    return key_ok and sign_ok
