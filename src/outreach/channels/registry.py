"""Channel discovery through the ``outreach.channels`` entry-point group.

outreach registers its own channels in pyproject.toml; a plugin package registers more the same
way (``[project.entry-points."outreach.channels"] fax = "acme_fax:FaxChannel"``) and is found
without touching outreach.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING

from outreach.channels.base import ChannelWorker
from outreach.domain import AddressKind, register_channel

if TYPE_CHECKING:
    from outreach.config import Settings

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "outreach.channels"


class UnknownChannelError(LookupError):
    """A configured channel name has no registered worker."""

    def __init__(self, unknown: list[str], available: list[str]):
        super().__init__(
            f"unknown channel(s) {', '.join(sorted(unknown))}; registered in entry-point group "
            f"{ENTRY_POINT_GROUP!r}: {', '.join(sorted(available)) or 'none'}"
        )
        self.unknown = unknown
        self.available = available


class ChannelPluginError(TypeError):
    """A registered entry point does not lead to a usable ChannelWorker."""


def available_channels() -> dict[str, EntryPoint]:
    """Every registered channel by name (not imported yet)."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def channel_classes(names: Iterable[str] | None = None) -> dict[str, type[ChannelWorker]]:
    """The worker classes for ``names`` (all registered when ``None``), checked and imported."""
    registered = available_channels()
    wanted = list(registered) if names is None else list(dict.fromkeys(names))
    unknown = [name for name in wanted if name not in registered]
    if unknown:
        raise UnknownChannelError(unknown, list(registered))
    classes: dict[str, type[ChannelWorker]] = {}
    for name in wanted:
        entry_point = registered[name]
        try:
            cls = entry_point.load()
        except Exception as exc:  # an import error in a plugin must name the plugin
            raise ChannelPluginError(
                f"channel {name!r} ({entry_point.value}) failed to load: {exc}"
            ) from exc
        if not (isinstance(cls, type) and issubclass(cls, ChannelWorker)):
            raise ChannelPluginError(f"channel {name!r} ({entry_point.value}) is no ChannelWorker")
        if getattr(cls, "name", None) != name:
            raise ChannelPluginError(
                f"channel {name!r} ({entry_point.value}) declares name {cls.name!r}"
            )
        try:  # the rules learn which address the channel reaches patients at
            register_channel(name, getattr(cls, "address_kind", ""))
        except ValueError as exc:
            raise ChannelPluginError(
                f"channel {name!r} ({entry_point.value}): {exc}; declare address_kind as one "
                f"of {', '.join(kind.value for kind in AddressKind)}"
            ) from None
        classes[name] = cls
    return classes


def load_channels(
    settings: Settings, names: Iterable[str] | None = None
) -> dict[str, ChannelWorker]:
    """Build the workers for ``names`` (all registered when ``None``) from settings.

    Unknown names and bad configuration raise here, at start-up, not at the first send.
    """
    workers = {name: cls.from_settings(settings) for name, cls in channel_classes(names).items()}
    logger.info("channels loaded: %s", ", ".join(workers) or "none")
    return workers
