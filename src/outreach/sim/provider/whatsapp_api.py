"""WhatsApp Cloud API messages: ``POST /{version}/{phone_number_id}/messages`` (JSON)."""

from __future__ import annotations

import json
import re
import secrets
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from outreach.sim.provider.faults import Fault, provider_fault
from outreach.sim.provider.state import SimState
from outreach.sim.provider.store import SimMessage
from outreach.sim.provider.webhooks import new_wamid

router = APIRouter()

WA_ID = re.compile(r"^\+?[1-9]\d{6,14}$")
MAX_TEXT_CHARS = 4096


def graph_error(fault: Fault) -> JSONResponse:
    return JSONResponse(
        {
            "error": {
                "message": fault.message,
                "type": "OAuthException",
                "code": fault.code,
                "fbtrace_id": secrets.token_urlsafe(16),
            }
        },
        status_code=fault.http_status,
    )


def _invalid(detail: str) -> JSONResponse:
    return graph_error(Fault(400, 100, f"(#100) {detail}"))


@router.post("/{version}/{phone_number_id}/messages")
async def send_message(version: str, phone_number_id: str, request: Request) -> JSONResponse:
    state: SimState = request.app.state.sim
    config = state.config
    auth = request.headers.get("authorization", "")
    if not auth.startswith("Bearer ") or (
        config.whatsapp_token and auth[7:] != config.whatsapp_token
    ):
        return graph_error(provider_fault("whatsapp", 190))
    if not re.fullmatch(r"v\d+\.\d+", version) or (
        config.whatsapp_phone_number_id and phone_number_id != config.whatsapp_phone_number_id
    ):
        return _invalid(
            f"Unsupported post request. Object with ID '{phone_number_id}' does not exist"
        )
    try:
        payload = json.loads(await request.body())
    except ValueError:
        return _invalid("Invalid parameter")
    if not isinstance(payload, dict) or payload.get("messaging_product") != "whatsapp":
        return _invalid("The parameter messaging_product is required.")
    to = str(payload.get("to") or "")
    if not WA_ID.match(to):
        return _invalid("Invalid parameter: to")
    kind = payload.get("type", "text")
    body, template = None, None
    if kind == "text":
        body = str((payload.get("text") or {}).get("body") or "")
        if not body or len(body) > MAX_TEXT_CHARS:
            return _invalid("Invalid parameter: text.body")
    elif kind == "template":
        spec = payload.get("template") or {}
        if not spec.get("name"):
            return _invalid("The parameter template['name'] is required.")
        template = {
            "name": spec["name"],
            "language": (spec.get("language") or {}).get("code"),
            "parameters": [
                p.get("text")
                for c in spec.get("components") or []
                for p in c.get("parameters") or []
                if isinstance(p, dict)
            ],
        }
    else:
        return _invalid(f"Unsupported message type {kind!r} in the simulator")
    await state.wait_latency()
    fault = state.fault_for("whatsapp", to, phone_number_id)
    if fault is not None:
        state.store.count(f"rejected.whatsapp.{fault.code}")
        return graph_error(fault)
    message = SimMessage(
        id=new_wamid(),
        channel="whatsapp",
        to=to,
        from_=config.whatsapp_business_number,
        body=body,
        received_at=datetime.now(UTC),
        status="accepted",
        template=template,
        extras={"phone_number_id": phone_number_id, "conversation_id": secrets.token_hex(16)},
    )
    state.accept(message)
    return JSONResponse(
        {
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": to.lstrip("+")}],
            "messages": [{"id": message.id}],
        }
    )
