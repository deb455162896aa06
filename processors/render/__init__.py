"""Render: the final content of each message from its template, with exact SMS encoding and segments, short links and MMS media."""
