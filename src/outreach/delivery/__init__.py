"""Delivery: the rules of getting one job to a provider (retry and backoff). Pure, no I/O."""
