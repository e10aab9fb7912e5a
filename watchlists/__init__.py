"""Watchlists, subjects (persons of interest), face templates, enrolment and matching."""
