"""Conversions: business outcomes attributed to a message, its campaign, variant and button; click counts."""
