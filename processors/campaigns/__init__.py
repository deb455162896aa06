"""Campaigns: stream an audience file into ``send-requested`` with A/B variants, and start, cancel or inspect a campaign."""
