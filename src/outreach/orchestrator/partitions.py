"""How a batch of Kafka messages is cut for parallel transactions: by whole partitions. Pure."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

EventT = TypeVar("EventT")


def partition_groups(
    events: Sequence[EventT], ways: int, partition_of: Callable[[EventT], Hashable]
) -> list[list[EventT]]:
    """Split a batch into at most ``ways`` groups of whole partitions, each in arrival order.

    Core events are keyed by patient, so a patient's events are all in one partition: groups
    never share a patient, and each keeps its partitions' events in order.
    """
    by_partition: dict[Hashable, list[EventT]] = {}
    for event in events:
        by_partition.setdefault(partition_of(event), []).append(event)
    groups: list[list[EventT]] = [[] for _ in range(max(1, min(ways, len(by_partition))))]
    for partition_events in sorted(by_partition.values(), key=len, reverse=True):
        min(groups, key=len).extend(partition_events)
    return [group for group in groups if group]
