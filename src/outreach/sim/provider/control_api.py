"""The simulator's own controls under ``/_sim``: records, statistics, run-time configuration,
verification keys, and patients' replies on demand."""

from __future__ import annotations

import re

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from outreach.sim.provider.config import SIM_CHANNELS
from outreach.sim.provider.signing import public_key_b64, public_key_pem
from outreach.sim.provider.state import SimState

router = APIRouter(prefix="/_sim")
CHANNEL_NAME = re.compile(r"[a-z][a-z0-9_]{0,15}")


class InboundRequest(BaseModel):
    channel: str
    from_: str
    to: str
    body: str
    subject: str | None = None
    button_payload: str | None = None  # WhatsApp: answer as a template quick-reply button
    context_id: str | None = None  # WhatsApp: the message being answered


def _state(request: Request) -> SimState:
    return request.app.state.sim


@router.get("/health")
async def health() -> dict:
    return {"ok": True}


@router.get("/messages")
async def list_messages(
    request: Request,
    channel: str | None = None,
    to: str | None = None,
    direction: str | None = "outbound",
    job_id: str | None = None,
    limit: int | None = None,
) -> JSONResponse:
    """Recorded messages, oldest first; ``direction=all`` includes patients' messages."""
    found = _state(request).store.query(
        channel=channel,
        to=to,
        direction=None if direction == "all" else direction,
        job_id=job_id,
        limit=limit,
    )
    return JSONResponse(found)  # already plain JSON: skip FastAPI's per-item encoding


@router.delete("/messages")
async def clear_messages(request: Request) -> dict:
    _state(request).store.clear()
    return {"cleared": True}


@router.get("/stats")
async def stats(request: Request) -> dict:
    state = _state(request)
    return {**state.store.stats(), "callbacks": state.dispatcher.stats()}


@router.get("/config")
async def get_config(request: Request) -> dict:
    return _state(request).config.redacted()


@router.post("/config")
async def update_config(request: Request) -> dict:
    """Merge the JSON body into the configuration; see ``SimState.update``."""
    patch = await request.json()
    if not isinstance(patch, dict):
        raise HTTPException(422, "a JSON object of SimConfig fields is expected")
    try:
        config = _state(request).update(patch)
    except (ValidationError, ValueError) as exc:
        raise HTTPException(422, str(exc)) from None
    return config.redacted()


@router.post("/reset")
async def reset(request: Request) -> dict:
    """Back to the start-up configuration, with no records and zeroed counters."""
    _state(request).reset()
    return {"reset": True}


@router.get("/keys")
async def keys(request: Request) -> dict:
    key = _state(request).sendgrid_key
    return {
        "sendgrid_public_key": public_key_b64(key),
        "sendgrid_public_key_pem": public_key_pem(key),
    }


@router.post("/inbound")
async def inbound(request: Request) -> dict:
    """Make a patient's message arrive at the API as the provider's signed webhook.

    Body: ``{"channel", "from", "to", "body"}`` plus optional ``subject`` (e-mail),
    ``button_payload`` and ``context_id`` (WhatsApp).
    """
    raw = await request.json()
    if not isinstance(raw, dict):
        raise HTTPException(422, "a JSON object is expected")
    try:
        spec = InboundRequest.model_validate({**raw, "from_": raw.get("from", raw.get("from_"))})
    except ValidationError as exc:
        raise HTTPException(422, str(exc)) from None
    if spec.channel not in SIM_CHANNELS and not CHANNEL_NAME.fullmatch(spec.channel):
        raise HTTPException(
            422, f"channel must be one of {', '.join(SIM_CHANNELS)} or a gateway channel's name"
        )
    state = _state(request)
    record, job = state.inbound(
        spec.channel,
        from_=spec.from_,
        to=spec.to,
        body=spec.body,
        subject=spec.subject,
        button_payload=spec.button_payload,
        context_id=spec.context_id,
    )
    status = await state.dispatcher.post_now(job)
    return {
        "id": record.id,
        "status_code": status,
        "delivered": status is not None and 200 <= status < 300,
    }
