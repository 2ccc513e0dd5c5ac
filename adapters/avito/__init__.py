"""Avito Messenger's webhook (kind ``avito``): https://developers.avito.ru/api-catalog/messenger/documentation."""

from adapters.avito.translate import translate

__all__ = ["translate"]
