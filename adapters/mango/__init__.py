"""Mango Office VPBX API v1: webhooks in, signed commands out.

Nothing outside this package knows Mango's field names.
"""
