"""Analytics on the receipt topic: campaign and transactional reports (funnel, rates, A/B verdict, charts)."""
