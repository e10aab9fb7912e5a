"""Alerts, their state machine and history, evidence, dashboards and dispatch integration."""
