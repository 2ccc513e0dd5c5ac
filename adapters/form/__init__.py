"""A site's own form or a tour-search module (kind ``form``): our own contract (docs/CHANNELS.md)."""

from adapters.form.translate import translate

__all__ = ["translate"]
