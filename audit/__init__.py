"""Append-only, hash-chained access log; auditor views."""
