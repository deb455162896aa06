"""The keywords stage: inbound STOP / START / HELP (and their translations) → consent changes and an auto-reply."""
