"""Retention: purges what is past its period across the apps, and warns before watchlist entries expire."""
