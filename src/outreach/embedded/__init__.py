"""Embedded stand-ins for the demo and tests: the tansu broker and a Redis-compatible server."""
