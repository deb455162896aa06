"""Every topic declared once (``topics``), applied to a cluster and registry (``apply``), and checked for compatibility (``check``)."""
