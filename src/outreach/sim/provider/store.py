"""The simulator's memory of every message it accepted or delivered to the API."""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from datetime import datetime


def address_key(address: str) -> str:
    """Comparable form of an address: e-mail lower-cased, phone numbers without '+' or spaces."""
    address = address.strip()
    if "@" in address:
        return address.lower()
    return "".join(ch for ch in address if ch.isdigit())


@dataclass(slots=True)
class SimMessage:
    id: str
    channel: str
    to: str
    from_: str
    body: str | None
    received_at: datetime
    status: str
    direction: str = "outbound"  # or "inbound": a patient's message the sim sent to the API
    subject: str | None = None
    template: dict | None = None
    job_id: str | None = None
    error_code: str | None = None
    status_history: list[str] = field(default_factory=list)
    # Mail headers the sender set (e.g. List-Unsubscribe); e-mail only.
    headers: dict[str, str] = field(default_factory=dict)
    extras: dict = field(default_factory=dict)  # provider details (account, custom args, ids)

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "channel": self.channel,
            "direction": self.direction,
            "to": self.to,
            "from": self.from_,
            "subject": self.subject,
            "body": self.body,
            "template": self.template,
            "job_id": self.job_id,
            "received_at": self.received_at.isoformat(),
            "status": self.status,
            "status_history": list(self.status_history),
            "error_code": self.error_code,
            "html": self.extras.get("html"),
            "headers": dict(self.headers),
            "attachments": self.extras.get("attachments", []),
        }


class MessageStore:
    """Thread-safe, bounded record of messages and counters."""

    def __init__(self, max_messages: int = 1_000_000):
        self._lock = threading.Lock()
        self._messages: OrderedDict[str, SimMessage] = OrderedDict()
        self._max = max_messages
        self.counters: Counter[str] = Counter()

    def add(self, message: SimMessage) -> None:
        with self._lock:
            self._messages[message.id] = message
            message.status_history.append(message.status)
            while len(self._messages) > self._max:
                self._messages.popitem(last=False)
            self.counters[f"{message.direction}.{message.channel}"] += 1

    def update_status(self, message_id: str, status: str, error_code: str | None = None) -> None:
        with self._lock:
            message = self._messages.get(message_id)
            if message is None:
                return
            message.status = status
            message.status_history.append(status)
            if error_code is not None:
                message.error_code = error_code

    def count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.counters[key] += n

    def query(
        self,
        channel: str | None = None,
        to: str | None = None,
        direction: str | None = "outbound",
        job_id: str | None = None,
        limit: int | None = None,
    ) -> list[dict]:
        wanted_to = address_key(to) if to else None
        with self._lock:
            found = [
                m.as_json()
                for m in self._messages.values()
                if (channel is None or m.channel == channel)
                and (direction is None or m.direction == direction)
                and (wanted_to is None or address_key(m.to) == wanted_to)
                and (job_id is None or m.job_id == job_id)
            ]
        return found[-limit:] if limit else found

    def find(
        self,
        *,
        channel: str,
        to: str | None = None,
        job_id: str | None = None,
        since: datetime | None = None,
    ) -> list[SimMessage]:
        """Outbound messages as a provider's lookup finds them (oldest first)."""
        wanted_to = address_key(to) if to else None
        with self._lock:
            return [
                m
                for m in self._messages.values()
                if m.direction == "outbound"
                and m.channel == channel
                and (wanted_to is None or address_key(m.to) == wanted_to)
                and (job_id is None or m.job_id == job_id)
                and (since is None or m.received_at >= since)
            ]

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()
            self.counters.clear()

    def stats(self) -> dict:
        with self._lock:
            by_status: Counter[str] = Counter(
                f"{m.channel}.{m.status}"
                for m in self._messages.values()
                if m.direction == "outbound"
            )
            return {
                "recorded": len(self._messages),
                "counters": dict(self.counters),
                "outbound_by_status": dict(by_status),
            }
