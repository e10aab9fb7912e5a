"""Shared bases every app builds on: API and admin bases, roles, permissions, security gates, Redis keys, job state."""
