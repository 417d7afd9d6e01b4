"""The console's Operations pages, for admins: the organisation's dead letters (replay, discard),
each provider's circuit and pace, recent webhook failures, and the organisation's API keys.

What an organisation's admin sees (``services.dead_letters_admin``):

- dead letters that carry the organisation (today: sends of its jobs that failed for good), with
  their PHI-free reason and state; one opens to its details and may be replayed or discarded
  once, through the service ``outreach dlq`` uses, audited. The sealed original is never shown
  (it may hold personal data: ``outreach dlq show`` opens it for operators holding the key).
  Entries of another organisation, and entries whose organisation is unknown (a malformed
  message, a batch that kept failing), answer 404 like a missing one: they are the operators';
- providers and webhooks, which every organisation of a deployment shares: each provider's
  circuit as its workers report it (``channels.breaker_board``), each sender's configured rate
  and what its bucket holds now, and the latest provider webhooks that could not be read (the
  dead letters of stage ``api.webhook``: when, which path, why; never the body). Refused
  signatures are not recorded anywhere lasting: only this API process's counts since it
  started are shown, as such;
- the organisation's API keys: listed by prefix, created (the key shown once, on the answer to
  the form) and revoked, through the service the API's ``/api/v1/keys`` uses, audited.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from outreach import wiring
from outreach.api.console.auth import ConsoleUser, console_allow
from outreach.api.console.rendering import redirect, render
from outreach.channels.breaker_board import RedisBreakerBoard
from outreach.domain import Role
from outreach.events import DlqEntry
from outreach.kafka_reader import read_topic
from outreach.redis_store import KeySpace
from outreach.services.api_keys import (
    MAX_NAME_CHARS,
    issue_api_key,
    list_api_keys,
    revoke_api_key,
)
from outreach.services.dead_letters_admin import (
    AlreadyDecided,
    ListedDeadLetter,
    UnknownEntry,
    decision_of,
    discard,
    entries_from,
    find_entry,
    of_organisation,
    replay,
    webhook_failures,
    with_states,
)
from outreach.services.provider_health import provider_health
from outreach.topics import DLQ

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/console/operations", include_in_schema=False)

Admin = Annotated[ConsoleUser, Depends(console_allow(Role.ADMIN))]

SHOWN_DEAD_LETTERS = 200  # the newest; the rest with ``outreach dlq list``
SHOWN_WEBHOOK_FAILURES = 20
DLQ_READ_SECONDS = 20.0
KEY_ROLES = (Role.MARKETER, Role.ANALYST, Role.ADMIN, Role.PLATFORM)
MAX_ENTRY_ID_CHARS = 64
MAX_PREFIX_CHARS = 16
# What the page says after a decision (a fixed word in the address, never text from it).
DONE = {
    "replayed": "Replayed: the message was put back where it came from (a failed send is "
    "planned again as a new job).",
    "discarded": "Discarded: marked handled without replaying it.",
}


class BrokerUnavailable(Exception):
    """The dead-letter topic could not be read, or a replay not handed over."""


async def _topic_entries(request: Request) -> list[DlqEntry]:
    """Every entry on the dead-letter topic now (read from its start, nothing committed)."""
    settings = request.app.state.services.settings
    try:
        records = await read_topic(
            settings.resolved_kafka_bootstrap(), DLQ, timeout=DLQ_READ_SECONDS
        )
    except Exception as error:  # a broker down or slow: said on the page, not a 500
        logger.warning("dead-letter topic unreadable: %s", type(error).__name__)
        raise BrokerUnavailable(type(error).__name__) from None
    return entries_from(record.value for record in records)


async def _entry_of(request: Request, user: ConsoleUser, entry_id: str) -> DlqEntry | None:
    """The organisation's entry ``entry_id``; None for a missing one and another's alike."""
    if len(entry_id) > MAX_ENTRY_ID_CHARS:
        return None
    try:
        return find_entry(of_organisation(await _topic_entries(request), user.org_id), entry_id)
    except UnknownEntry:
        return None


def _unavailable(request: Request, user: ConsoleUser) -> Response:
    return render(request, "operations_unavailable.html", user, status_code=503)


def _webhook_refusals(request: Request) -> list[tuple[str, str, int]]:
    """(route, status, count) of webhooks this API process answered with an error since it
    started (``outreach_webhook_seconds``)."""
    found = []
    for metric in request.app.state.services.metrics.webhook_seconds.collect():
        for sample in metric.samples:
            status = sample.labels.get("status", "")
            failed = status.isdigit() and int(status) >= 400
            if sample.name.endswith("_count") and failed and sample.value:
                found.append((sample.labels.get("route", ""), status, int(sample.value)))
    return sorted(found)


def _providers(request: Request) -> list[Any]:
    services = request.app.state.services
    settings = services.settings
    board = buckets = None
    if services.redis is not None:
        board = RedisBreakerBoard(services.redis, KeySpace(settings.redis_key_prefix))
        buckets = wiring.rate_limiter(settings, services.redis)
    return provider_health(
        services.channels, settings.send_rates, services.clock(), board=board, buckets=buckets
    )


def when(value: datetime | None) -> str:
    """A time as the pages show it: UTC, to the second."""
    if value is None:
        return ""
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def _not_found(request: Request, user: ConsoleUser, what: str) -> Response:
    return render(request, "operations_missing.html", user, status_code=404, what=what)


async def _index(
    request: Request,
    user: ConsoleUser,
    *,
    status_code: int = 200,
    key_form: dict[str, Any] | None = None,
) -> Response:
    services = request.app.state.services
    try:
        entries: list[DlqEntry] | None = await _topic_entries(request)
    except BrokerUnavailable:
        entries = None  # the rest of the page does not need the broker
    ours = sorted(
        of_organisation(entries or [], user.org_id),
        key=lambda entry: entry.failed_at,
        reverse=True,
    )
    listed: list[ListedDeadLetter] = await run_in_threadpool(
        with_states, services.store, ours[:SHOWN_DEAD_LETTERS]
    )
    providers = await run_in_threadpool(_providers, request)
    keys = await run_in_threadpool(list_api_keys, services.store, user.org_id)
    return render(
        request,
        "operations_index.html",
        user,
        status_code=status_code,
        when=when,
        dead_letters=listed,
        more_dead_letters=max(0, len(ours) - SHOWN_DEAD_LETTERS),
        providers=providers,
        redis_known=services.redis is not None,
        broker_known=entries is not None,
        webhook_failures=webhook_failures(entries or [], SHOWN_WEBHOOK_FAILURES),
        webhook_refusals=_webhook_refusals(request),
        keys=keys,
        own_key=user.caller.principal.actor.removeprefix("key:"),
        key_roles=[role.value for role in KEY_ROLES],
        key_form=key_form or {"name": "", "role": Role.ANALYST.value, "errors": {}},
    )


@router.get("")
async def operations_page(request: Request, user: Admin) -> Response:
    return await _index(request, user)


@router.get("/dead-letters/{entry_id}")
async def dead_letter_page(request: Request, user: Admin, entry_id: str) -> Response:
    try:
        entry = await _entry_of(request, user, entry_id)
    except BrokerUnavailable:
        return _unavailable(request, user)
    if entry is None:
        return _not_found(request, user, "dead letter")
    state, decided_at, decided_by = await run_in_threadpool(
        decision_of, request.app.state.services.store, entry
    )
    return render(
        request,
        "operations_dead_letter.html",
        user,
        when=when,
        entry=entry,
        state=state,
        decided_at=decided_at,
        decided_by=decided_by,
        done=DONE.get(request.query_params.get("done", ""), ""),
        refusal="",
    )


async def _refused(request: Request, user: ConsoleUser, entry: DlqEntry, message: str) -> Response:
    state, decided_at, decided_by = await run_in_threadpool(
        decision_of, request.app.state.services.store, entry
    )
    return render(
        request,
        "operations_dead_letter.html",
        user,
        status_code=409,
        when=when,
        entry=entry,
        state=state,
        decided_at=decided_at,
        decided_by=decided_by,
        done="",
        refusal=message,
    )


@router.post("/dead-letters/{entry_id}/replay")
async def replay_dead_letter(request: Request, user: Admin, entry_id: str) -> Response:
    """Put the original back where it came from (a failed send: planned again as a new job),
    once."""
    try:
        entry = await _entry_of(request, user, entry_id)
    except BrokerUnavailable:
        return _unavailable(request, user)
    if entry is None:
        return _not_found(request, user, "dead letter")
    services = request.app.state.services
    now = services.clock()
    audit = user.caller.audit(
        "dead_letter_replayed",
        now,
        detail={"entry_id": entry.entry_id, "stage": entry.stage, "topic": entry.source_topic},
    )
    try:
        await replay(
            services.store,
            services.sealer,
            services.publisher.publish_many,
            entry,
            user.caller.actor.name,
            now,
            audit,
        )
    except AlreadyDecided:
        return await _refused(request, user, entry, "It was already replayed or discarded.")
    except UnknownEntry:
        return await _refused(request, user, entry, "Its job no longer exists: nothing to replay.")
    except ValueError:  # sealed with another deployment's key
        return await _refused(
            request,
            user,
            entry,
            "It was sealed with another dead-letter key: this deployment cannot open it.",
        )
    except Exception as error:  # the broker did not take it: nothing was recorded
        logger.warning("replay of %s not handed over: %s", entry.entry_id, type(error).__name__)
        return _unavailable(request, user)
    return redirect(f"/console/operations/dead-letters/{entry.entry_id}?done=replayed")


@router.post("/dead-letters/{entry_id}/discard")
async def discard_dead_letter(request: Request, user: Admin, entry_id: str) -> Response:
    """Mark the entry handled without replaying it, once."""
    try:
        entry = await _entry_of(request, user, entry_id)
    except BrokerUnavailable:
        return _unavailable(request, user)
    if entry is None:
        return _not_found(request, user, "dead letter")
    services = request.app.state.services
    now = services.clock()
    audit = user.caller.audit(
        "dead_letter_discarded", now, detail={"entry_id": entry.entry_id, "stage": entry.stage}
    )
    try:
        await run_in_threadpool(discard, services.store, entry, user.caller.actor.name, now, audit)
    except AlreadyDecided:
        return await _refused(request, user, entry, "It was already replayed or discarded.")
    return redirect(f"/console/operations/dead-letters/{entry.entry_id}?done=discarded")


@router.post("/keys")
async def create_key(
    request: Request,
    user: Admin,
    name: Annotated[str, Form(max_length=1000)] = "",
    role: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    """Issue a key of the organisation; the answer shows it whole, this once."""
    name = name.strip()
    errors = {}
    if not name:
        errors["name"] = "Say what the key is for (a name)."
    elif len(name) > MAX_NAME_CHARS:
        errors["name"] = f"At most {MAX_NAME_CHARS} characters."
    if role not in {r.value for r in KEY_ROLES}:
        errors["role"] = "Choose one of the roles listed."
    if errors:
        form = {"name": name[: MAX_NAME_CHARS * 2], "role": role, "errors": errors}
        return await _index(request, user, status_code=422, key_form=form)
    services = request.app.state.services
    issued = await run_in_threadpool(
        lambda: issue_api_key(
            services.store,
            org_id=user.org_id,
            role=Role(role),
            name=name,
            actor=user.caller.actor,
            now=services.clock(),
        )
    )
    return render(
        request, "operations_key_created.html", user, status_code=201, issued=issued, when=when
    )


@router.post("/keys/{prefix}/revoke")
async def revoke_key(request: Request, user: Admin, prefix: str) -> Response:
    """Revoke a live key of the organisation: it stops working at once (and so do the console
    sessions opened with it)."""
    if len(prefix) > MAX_PREFIX_CHARS:
        return _not_found(request, user, "live API key")
    services = request.app.state.services
    revoked = await run_in_threadpool(
        lambda: revoke_api_key(
            services.store,
            prefix,
            actor=user.caller.actor,
            now=services.clock(),
            org_id=user.org_id,
        )
    )
    if not revoked:
        return _not_found(request, user, "live API key")
    return redirect("/console/operations#keys")
