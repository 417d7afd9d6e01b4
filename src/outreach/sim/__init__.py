"""Local stand-ins for the outside world: the provider simulator and the synthetic clinic."""
