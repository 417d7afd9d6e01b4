"""A job's life as DESIGN.md tells it, written out by hand for the tests to hold the product to.

Nothing here is derived from ``outreach.domain``: a test that took its expectations from the
product's own ``FORWARD_PATH`` or ``can_transition`` would pass whatever they said.
"""

from __future__ import annotations

# The forward path, in the order a message goes out and is answered.
FORWARD_ORDER = ("queued", "processing", "sent", "delivered", "opened", "clicked", "replied")
# Side exits: a job that reached one of these never moves again.
SIDE_EXITS = ("failed", "bounced", "cancelled", "suppressed")
STATUSES = FORWARD_ORDER + SIDE_EXITS

# Every allowed move; a pair not listed is forbidden.
ALLOWED: dict[str, frozenset[str]] = {
    "queued": frozenset(
        {
            "processing",
            "sent",
            "delivered",
            "opened",
            "clicked",
            "replied",
            "failed",
            "cancelled",
            "suppressed",
        }
    ),
    "processing": frozenset(
        {"sent", "delivered", "opened", "clicked", "replied", "failed", "cancelled", "suppressed"}
    ),
    # Once a provider took the message only its own report (failed, bounced) ends it early...
    "sent": frozenset({"delivered", "opened", "clicked", "replied", "failed", "bounced"}),
    "delivered": frozenset({"opened", "clicked", "replied", "failed", "bounced"}),
    # ...and not at all once the patient opened it.
    "opened": frozenset({"clicked", "replied"}),
    "clicked": frozenset({"replied"}),
    "replied": frozenset(),
    "failed": frozenset(),
    "bounced": frozenset(),
    "cancelled": frozenset(),
    "suppressed": frozenset(),
}

# Statuses a provider reports that move a job (outreach.status).
PROVIDER_REPORTED = ("sent", "delivered", "opened", "clicked", "replied", "failed", "bounced")
