"""Access control for every HTTP API: API keys with scopes, per-key rate limits, and which key sent what.

``courrier keys`` writes keys (as salted hashes) to the compacted ``api-keys`` topic; each HTTP
instance follows that topic, so a new or revoked key reaches every instance within a second or so.
"""
