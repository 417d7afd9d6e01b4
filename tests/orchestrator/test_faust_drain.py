"""The copied faust drain loop is tied to the faust source it was copied from."""

from __future__ import annotations

import pytest

from outreach.orchestrator import faust_drain


def test_the_installed_faust_drain_loop_is_the_one_copied() -> None:
    """Fails when a faust upgrade changes ``Consumer._drain_messages``: compare the new upstream
    method with ``PromptDeliveryConsumer._drain_messages``, port the change, then record the
    new fingerprint (``faust_drain.upstream_drain_fingerprint()``)."""
    assert faust_drain.upstream_drain_fingerprint() == faust_drain.UPSTREAM_DRAIN_FINGERPRINT


def test_a_changed_upstream_loop_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(faust_drain, "UPSTREAM_DRAIN_FINGERPRINT", "0" * 64)
    with pytest.raises(faust_drain.UpstreamDrainChanged, match="OUTREACH_FAUST_PROMPT_DELIVERY"):
        faust_drain.check_upstream_drain()
