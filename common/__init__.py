"""The ground floor every other package stands on: settings (``config``), JSON logging with masked numbers (``logs``)
and the error root (``errors``). It imports nothing of Courrier's own from above it."""
