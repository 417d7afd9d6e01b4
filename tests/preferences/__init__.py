"""Tests of the pure preferences core; a package so module names stay unique across tests/."""
