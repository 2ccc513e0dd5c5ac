"""Vendor adapters: each turns one PBX's wire format into daemon.domain.events events."""
