"""Channel: RCS, SMS or MMS for each recipient, and the sender it leaves from."""
