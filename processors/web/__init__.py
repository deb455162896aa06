"""What every HTTP service shares: the one error shape, its handlers, and the bounded reading of JSON bodies."""
