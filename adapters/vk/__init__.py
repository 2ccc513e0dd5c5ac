"""A VK community's Callback API (kind ``vk``): https://dev.vk.com/api/callback/getting-started."""

from adapters.vk.translate import translate

__all__ = ["translate"]
