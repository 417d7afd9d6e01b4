"""The generic gateway: a provider for channels that plugins add (``POST /gateway/v1/{channel}/
messages``, JSON, bearer token), with signed JSON status callbacks and a lookup by reference.

Its shape is the simplest a messaging API takes; a plugin channel written against it shows the
seam (any name, its own webhooks, its own lookup) without a real provider.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from outreach.sim.provider.faults import Fault, provider_fault
from outreach.sim.provider.state import SimState
from outreach.sim.provider.store import SimMessage
from outreach.sim.provider.webhooks import gateway_message_resource, new_gateway_id

router = APIRouter(prefix="/gateway/v1")


def gateway_error(fault: Fault, detail: str | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": fault.code, "message": detail or fault.message}},
        status_code=fault.http_status,
    )


def _authorised(request: Request, state: SimState) -> bool:
    auth = request.headers.get("authorization", "")
    token = state.config.gateway_token
    return auth.startswith("Bearer ") and (token is None or auth[7:] == token)


@router.post("/{channel}/messages")
async def send_message(channel: str, request: Request) -> JSONResponse:
    state: SimState = request.app.state.sim
    if not _authorised(request, state):
        return gateway_error(provider_fault(channel, 401))
    try:
        payload = json.loads(await request.body())
    except ValueError:
        return gateway_error(Fault(400, 400, "invalid JSON"))
    to, body = str(payload.get("to") or ""), str(payload.get("body") or "")
    if not to or not body:
        return gateway_error(Fault(400, 400, "to and body are required"))
    await state.wait_latency()
    fault = state.fault_for(channel, to, channel)
    if fault is None and state.is_opted_out(to):
        fault = Fault(400, 400, "recipient opted out")
    if fault is not None:
        state.store.count(f"rejected.{channel}.{fault.code}")
        return gateway_error(fault)
    reference = payload.get("reference")
    message = SimMessage(
        id=new_gateway_id(),
        channel=channel,
        to=to,
        from_=state.config.gateway_number,
        body=body,
        received_at=datetime.now(UTC),
        status="queued",
        job_id=str(reference) if reference is not None else None,
        extras={"callback_url": payload.get("callback_url")},
    )
    state.accept(message)
    return JSONResponse(gateway_message_resource(message), status_code=201)


@router.get("/{channel}/messages")
async def find_messages(channel: str, request: Request, reference: str) -> JSONResponse:
    """The gateway's messages on ``channel`` carrying ``reference`` (the sender's own id)."""
    state: SimState = request.app.state.sim
    if not _authorised(request, state):
        return gateway_error(provider_fault(channel, 401))
    found = state.store.find(channel=channel, job_id=reference)
    return JSONResponse({"messages": [gateway_message_resource(m) for m in found]})
