"""Picking due jobs exactly once, the retry policy, and the periodic (cron) jobs."""
