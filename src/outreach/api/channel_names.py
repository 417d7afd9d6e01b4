"""Channel names in request bodies: a name that no registered channel serves is a 422.

The API process loads every registered channel (to verify their webhooks), so what it knows is
what the deployment can send on.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from outreach.domain import Channel, known_channels


def _registered(channel: Channel) -> Channel:
    if channel not in known_channels():
        raise ValueError("no registered channel has this name")
    return channel


RegisteredChannel = Annotated[Channel, AfterValidator(_registered)]
