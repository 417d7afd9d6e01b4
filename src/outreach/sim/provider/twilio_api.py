"""Twilio's Messages resource: ``POST /2010-04-01/Accounts/{sid}/Messages.json`` (form data)."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from outreach.sim.provider.faults import Fault, provider_fault
from outreach.sim.provider.state import SimState
from outreach.sim.provider.store import SimMessage
from outreach.sim.provider.webhooks import new_twilio_sid, twilio_message_resource

router = APIRouter()

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
MAX_BODY_CHARS = 1600


def twilio_error(fault: Fault) -> JSONResponse:
    return JSONResponse(
        {
            "code": fault.code,
            "message": fault.message,
            "more_info": f"https://www.twilio.com/docs/errors/{fault.code}",
            "status": fault.http_status,
        },
        status_code=fault.http_status,
    )


def _basic_auth(header: str | None) -> tuple[str, str]:
    if not header or not header.lower().startswith("basic "):
        return "", ""
    try:
        user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    return user, password


@router.post("/2010-04-01/Accounts/{account_sid}/Messages.json")
async def create_message(account_sid: str, request: Request) -> JSONResponse:
    state: SimState = request.app.state.sim
    config = state.config
    user, password = _basic_auth(request.headers.get("authorization"))
    if (
        user != account_sid
        or password != config.twilio_auth_token
        or (config.twilio_account_sid and account_sid != config.twilio_account_sid)
    ):
        return twilio_error(provider_fault("sms", 20003))
    form = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    to = form.get("To", [""])[0]
    sender = form.get("From", form.get("MessagingServiceSid", [""]))[0]
    body = form.get("Body", [""])[0]
    status_callback = form.get("StatusCallback", [None])[0]
    await state.wait_latency()
    fault = state.fault_for("sms", to, sender)
    if fault is None:
        fault = _validate(to, body)
    if fault is None and state.is_opted_out(to):
        fault = provider_fault("sms", 21610)
    if fault is not None:
        state.store.count(f"rejected.sms.{fault.code}")
        return twilio_error(fault)
    now = datetime.now(UTC)
    job_ids = parse_qs(urlsplit(status_callback).query).get("job_id") if status_callback else None
    message = SimMessage(
        id=new_twilio_sid(),
        channel="sms",
        to=to,
        from_=sender,
        body=body,
        received_at=now,
        status="queued",
        job_id=job_ids[0] if job_ids else None,
        extras={"account_sid": account_sid, "status_callback": status_callback},
    )
    state.accept(message)
    return JSONResponse(twilio_message_resource(message, account_sid, now), status_code=201)


@router.get("/2010-04-01/Accounts/{account_sid}/Messages.json")
async def list_messages(account_sid: str, request: Request) -> JSONResponse:
    """Twilio's Messages list, filtered by ``To``, ``From`` and ``DateSent`` (``DateSent>`` and
    ``DateSent<`` too; dates or date-times), newest first, one page."""
    state: SimState = request.app.state.sim
    user, password = _basic_auth(request.headers.get("authorization"))
    if user != account_sid or password != state.config.twilio_auth_token:
        return twilio_error(provider_fault("sms", 20003))
    params = request.query_params
    after = _date_param(params.get("DateSent>") or params.get("DateSent>="))
    before = _date_param(params.get("DateSent<") or params.get("DateSent<="))
    on = _date_param(params.get("DateSent"))
    sender = params.get("From")
    found = [
        m
        for m in state.store.find(channel="sms", to=params.get("To"), since=after or on)
        if (sender is None or m.from_ == sender)
        and (before is None or m.received_at <= before)
        and (on is None or m.received_at.date() == on.date())
    ]
    found.reverse()
    size = int(params.get("PageSize") or 50)
    uri = f"/2010-04-01/Accounts/{account_sid}/Messages.json"
    return JSONResponse(
        {
            "messages": [
                twilio_message_resource(m, account_sid, m.received_at) for m in found[:size]
            ],
            "end": min(size, len(found)) - 1,
            "first_page_uri": uri,
            "next_page_uri": None,
            "page": 0,
            "page_size": size,
            "previous_page_uri": None,
            "start": 0,
            "uri": uri,
        }
    )


def _date_param(value: str | None) -> datetime | None:
    """Twilio's date filters: a date (``2026-12-01``) or an ISO 8601 date-time, UTC."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _validate(to: str, body: str) -> Fault | None:
    if not E164.match(to):
        return provider_fault("sms", 21211)
    if not body:
        return provider_fault("sms", 21602)
    if len(body) > MAX_BODY_CHARS:
        return provider_fault("sms", 21617)
    return None
