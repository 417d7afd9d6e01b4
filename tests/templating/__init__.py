"""Tests of the templating core; a package so module names stay unique across tests/."""
