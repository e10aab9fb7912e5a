"""Test support shared by the apps' test suites (servers, fixtures, scenes); never imported by runtime code."""
