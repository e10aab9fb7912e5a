"""Stream analysis: capture, vision pipeline stages and camera sessions (no views)."""
