"""Support modules for tests: test servers, fixtures and scenario helpers. Test modules import these,
never each other."""
