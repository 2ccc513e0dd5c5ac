"""A site's own form or a tour-search module (kind ``form``): PROTOCOLS.md §2, our contract."""

from adapters.form.translate import translate

__all__ = ["translate"]
