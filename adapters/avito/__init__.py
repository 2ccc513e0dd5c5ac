"""Avito Messenger's webhook (kind ``avito``): https://developers.avito.ru/api-catalog/messenger/documentation."""

from adapters.avito.translate import ANSWER_WITHIN_S, translate

__all__ = ["ANSWER_WITHIN_S", "translate"]
