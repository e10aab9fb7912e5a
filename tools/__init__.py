"""Maintainer tooling (training, measuring, model conversion): never imported by the running product."""
