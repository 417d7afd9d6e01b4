"""Marketers' JSON Logic segments: validation, in-memory evaluation, compilation to SQL, and
campaign expansion into jobs (DESIGN.md). Not built yet: the package holds its place in the
layout so the seam is visible; campaigns arrive with their own issue.
"""
