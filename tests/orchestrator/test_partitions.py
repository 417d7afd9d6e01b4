"""A batch splits into groups of whole partitions that keep their events in order."""

from __future__ import annotations

from types import SimpleNamespace

from outreach.orchestrator.partitions import partition_groups


def tp(event: SimpleNamespace) -> tuple[str, int]:
    return event.message.tp


def event(partition: int, offset: int) -> SimpleNamespace:
    return SimpleNamespace(message=SimpleNamespace(tp=("core.events", partition), offset=offset))


def test_a_partition_is_never_split_and_keeps_its_order() -> None:
    batch = [event(p, o) for o in range(5) for p in (0, 1, 2, 3)]
    groups = partition_groups(batch, 2, tp)
    assert len(groups) == 2
    assert sorted(e.message.offset for g in groups for e in g) == sorted(list(range(5)) * 4)
    for group in groups:
        for partition in {e.message.tp for e in group}:
            offsets = [e.message.offset for e in group if e.message.tp == partition]
            assert offsets == list(range(5))
    owners = {e.message.tp: i for i, g in enumerate(groups) for e in g}
    assert all(owners[e.message.tp] == i for i, g in enumerate(groups) for e in g)


def test_groups_are_balanced_and_never_more_than_the_partitions() -> None:
    batch = [event(0, o) for o in range(6)] + [event(1, o) for o in range(3)]
    batch += [event(2, o) for o in range(3)]
    assert sorted(len(g) for g in partition_groups(batch, 2, tp)) == [6, 6]
    assert len(partition_groups(batch, 8, tp)) == 3
    assert len(partition_groups([event(0, 0)], 0, tp)) == 1
