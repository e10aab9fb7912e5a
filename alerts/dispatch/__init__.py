"""Dispatch to the city CAD: `outbound` (deliveries, attempts, retries) and `inbound` (unit status)."""
