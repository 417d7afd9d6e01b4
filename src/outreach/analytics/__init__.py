"""Delivery statuses -> job progress and stats; funnels, A/B evaluation and reports."""
