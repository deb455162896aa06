"""The live campaign dashboard: active campaigns and transactional flows, from the receipt-fed ``campaign-status`` view."""
