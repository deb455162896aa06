"""Links: the redirect service behind short links; each click is a ``CLICKED`` receipt, then a 302 to the original URL."""
