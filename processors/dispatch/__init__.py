"""Dispatch: submits rendered messages to a provider and reports what it accepted."""
