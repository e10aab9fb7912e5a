"""Incident analytics: person counting, crowd events, fight/aggression scoring (no Django)."""
