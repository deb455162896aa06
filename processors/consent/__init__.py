"""Consent: is the number real and able to receive SMS, and may this recipient receive this message now."""
