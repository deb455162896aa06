"""Test sends: a template to the team's own numbers, marked as test in every receipt (``processors.rules.test_sends``)."""
