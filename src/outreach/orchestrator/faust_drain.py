"""A faust consumer that hands each fetched message to its stream without a per-message race.

This copies and changes faust's private ``Consumer._drain_messages``. A private method can change
in any faust release, so the copy is guarded by a fingerprint of the upstream source it was made
from: when faust's method differs, the worker refuses to start with this transport (set
``OUTREACH_FAUST_PROMPT_DELIVERY=false`` to run faust's own loop) and a test fails, instead of
the optimisation silently switching itself off or running against code it no longer matches.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
from typing import Any

from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.consumer import Consumer as FaustConsumer
from faust.transport.drivers import aiokafka as faust_kafka

# sha256 of ``inspect.getsource(faust.transport.consumer.Consumer._drain_messages)`` in
# faust-streaming 0.15.3, the source ``PromptDeliveryConsumer._drain_messages`` was copied from.
UPSTREAM_DRAIN_FINGERPRINT = "44a2500309e83c630493f6828af50166ec8d96a0b3e4fb2bab735f704ae93417"


class UpstreamDrainChanged(RuntimeError):
    """faust's own drain loop is not the one this module's copy was made from."""


def upstream_drain_fingerprint() -> str:
    """The fingerprint of the installed faust's ``Consumer._drain_messages`` source."""
    source = inspect.getsource(FaustConsumer._drain_messages)
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def check_upstream_drain() -> None:
    """Raise ``UpstreamDrainChanged`` unless faust's drain loop is the one copied here."""
    found = upstream_drain_fingerprint()
    if found != UPSTREAM_DRAIN_FINGERPRINT:
        raise UpstreamDrainChanged(
            "faust's Consumer._drain_messages changed (fingerprint "
            f"{found[:12]}, expected {UPSTREAM_DRAIN_FINGERPRINT[:12]}): review "
            "outreach.orchestrator.faust_drain against it, or set "
            "OUTREACH_FAUST_PROMPT_DELIVERY=false to use faust's own loop"
        )


class PromptDeliveryConsumer(faust_kafka.Consumer):
    """faust's Kafka consumer, handing each fetched message to its stream without a race.

    faust 0.15's drain loop races every message's delivery against the flow-suspension event
    with ``wait_first`` (two tasks and an ``asyncio.wait`` per message), which measured more
    CPU than the rest of faust's per-message work together and, in a worker whose batch
    handlers need the GIL, was the largest single limit on events/s. Here the race happens
    only while the flow is suspended (a rebalance); otherwise the message is delivered
    directly. A delivery blocked when a rebalance begins is cancelled with the fetcher, as
    faust's own stop does, and its uncommitted offset is read again after the rebalance.
    The loop is otherwise faust's ``Consumer._drain_messages`` (see the fingerprint above).
    """

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover
        callback = self.callback
        getmany = self.getmany
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        set_flag = self.diag.set_flag
        unset_flag = self.diag.unset_flag
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for
        suspended = self.suspend_flow.is_set
        yield_every = 100
        num_since_yield = 0
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(CONSUMER_FETCHING)
                records = getmany(timeout=1.0)
                # getmany may return at once, again and again: let the loop breathe.
                await self.sleep(0)
                if not self.should_stop:
                    async for tp, message in records:
                        num_since_yield += 1
                        if num_since_yield > yield_every:
                            await asyncio.sleep(0)
                            num_since_yield = 0
                        offset = message.offset
                        read_offset = get_read_offset(tp)
                        if read_offset is None or offset >= read_offset:
                            gap = offset - (read_offset or 0)
                            if gap > 1 and read_offset and acks_enabled_for(message.topic):
                                await self._add_gap(tp, read_offset + 1, offset)
                            if commit_every is not None and self._n_acked >= commit_every:
                                self._n_acked = 0
                                await self.commit()
                            if suspended():
                                await self.wait_first(callback(message), self.suspend_flow.wait())
                            else:
                                await callback(message)
                            set_read_offset(tp, offset)
                    unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            unset_flag(CONSUMER_FETCHING)


class PromptDeliveryTransport(faust_kafka.Transport):
    Consumer = PromptDeliveryConsumer
