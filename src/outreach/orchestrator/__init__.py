"""The orchestrator: core events become communication jobs (faust app and its agents)."""
