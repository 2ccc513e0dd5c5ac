"""The shared API token, compared in constant time wherever it is presented."""

from __future__ import annotations

import hmac


def token_matches(sent: str, expected: str) -> bool:
    """Constant-time comparison of a presented token with the configured one.

    aiohttp decodes header bytes that are not UTF-8 as surrogates; they are
    encoded back the same way, so such a token is a mismatch, never a 500.
    """
    return hmac.compare_digest(
        sent.strip().encode("utf-8", "surrogateescape"), expected.encode("utf-8")
    )


def bearer_matches(authorization: str, expected: str) -> bool:
    """``Authorization: Bearer <token>`` carries the expected token."""
    scheme, _, token = authorization.partition(" ")
    return scheme.lower() == "bearer" and token_matches(token, expected)
