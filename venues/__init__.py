"""Venues, cameras, zones, analysis settings and camera health."""
