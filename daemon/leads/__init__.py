"""Leads that end, trips from the booking system, computed tags, analytics and lost clients."""
