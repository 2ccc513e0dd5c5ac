"""A VK community's Callback API (kind ``vk``): PROTOCOLS.md §5."""

from adapters.vk.translate import translate

__all__ = ["translate"]
