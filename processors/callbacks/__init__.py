"""Status callbacks: every receipt of a message that names a ``status_callback`` POSTed there as JSON, signed with its API key's callback secret, retried for 24 h through ``retry``."""
