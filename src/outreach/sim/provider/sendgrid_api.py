"""SendGrid's v3 Mail Send: ``POST /v3/mail/send`` (JSON; 202 with ``X-Message-Id``)."""

from __future__ import annotations

import json
import re
import secrets
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from outreach.sim.provider.faults import Fault, provider_fault
from outreach.sim.provider.state import SimState
from outreach.sim.provider.store import SimMessage
from outreach.sim.provider.webhooks import new_sendgrid_message_id

router = APIRouter()

EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


def sendgrid_error(fault: Fault, field: str | None = None) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": fault.message, "field": field, "help": None}]},
        status_code=fault.http_status,
    )


def _invalid(message: str, field: str) -> JSONResponse:
    return sendgrid_error(Fault(400, 400, message), field)


@router.post("/v3/mail/send")
async def mail_send(request: Request) -> Response:
    state: SimState = request.app.state.sim
    config = state.config
    auth = request.headers.get("authorization", "")
    if not auth.startswith("Bearer ") or (
        config.sendgrid_api_key and auth[7:] != config.sendgrid_api_key
    ):
        return sendgrid_error(provider_fault("email", 401))
    try:
        payload = json.loads(await request.body())
    except ValueError:
        return _invalid("Bad Request", "")
    if not isinstance(payload, dict):
        return _invalid("Bad Request", "")
    personalizations = payload.get("personalizations")
    if not isinstance(personalizations, list) or not personalizations:
        return _invalid("The personalizations field is required.", "personalizations")
    sender = (payload.get("from") or {}).get("email", "")
    if not EMAIL.match(str(sender)):
        return _invalid("The from email does not contain a valid address.", "from.email")
    template_id = payload.get("template_id")
    text = _text_content(payload.get("content") or [])
    html = _html_content(payload.get("content") or [])
    if not template_id and text is None:
        return _invalid(
            "Unless a valid template_id is provided, the content parameter is required.", "content"
        )
    recipients = []
    for i, personalization in enumerate(personalizations):
        for j, to in enumerate(personalization.get("to") or []):
            address = str((to or {}).get("email", ""))
            if not EMAIL.match(address):
                return _invalid(
                    "Does not contain a valid address.", f"personalizations.{i}.to.{j}.email"
                )
            recipients.append((personalization, address))
    if not recipients:
        return _invalid(
            "The to array is required for all personalization objects.", "personalizations.0.to"
        )
    await state.wait_latency()
    limited = state.over_rate("email", str(sender))
    if limited is not None:
        return sendgrid_error(limited)
    for _, address in recipients:
        fault = state.fault_for("email", address)
        if fault is not None:
            state.store.count(f"rejected.email.{fault.code}")
            return sendgrid_error(fault)
    message_id = new_sendgrid_message_id()
    now = datetime.now(UTC)
    for index, (personalization, address) in enumerate(recipients):
        custom_args = {
            **(payload.get("custom_args") or {}),
            **(personalization.get("custom_args") or {}),
        }
        subject = personalization.get("subject") or payload.get("subject")
        headers = {**(payload.get("headers") or {}), **(personalization.get("headers") or {})}
        state.accept(
            SimMessage(
                id=message_id if index == 0 else f"{message_id}.r{index}",
                channel="email",
                to=address,
                from_=str(sender),
                body=text,
                received_at=now,
                status="accepted",
                subject=subject,
                job_id=custom_args.get("job_id"),
                template=(
                    {
                        "template_id": template_id,
                        "dynamic_template_data": personalization.get("dynamic_template_data"),
                    }
                    if template_id
                    else None
                ),
                headers=headers,
                extras={
                    "html": html,
                    "custom_args": custom_args,
                    # Kept as sent (base64 content), so tests can read what went out.
                    "attachments": [
                        {k: a.get(k) for k in ("filename", "type", "content")}
                        for a in payload.get("attachments") or []
                        if isinstance(a, dict)
                    ],
                    "sg_message_id": (
                        f"{message_id}.filter0001.{secrets.randbelow(99999)}."
                        f"{secrets.token_hex(5).upper()}.{index}"
                    ),
                },
            )
        )
    return Response(status_code=202, headers={"X-Message-Id": message_id})


_UNIQUE_ARG = re.compile(r"unique_args\['([A-Za-z0-9_]+)'\]\s*=\s*\"([^\"]*)\"")


@router.get("/v3/messages")
async def email_activity(request: Request, query: str = "", limit: int = 10) -> Response:
    """The Email Activity API, for the one query outreach makes: messages by a custom arg
    (``unique_args['job_id']="123"``)."""
    state: SimState = request.app.state.sim
    auth = request.headers.get("authorization", "")
    if not auth.startswith("Bearer ") or (
        state.config.sendgrid_api_key and auth[7:] != state.config.sendgrid_api_key
    ):
        return sendgrid_error(provider_fault("email", 401))
    match = _UNIQUE_ARG.search(query)
    if match is None:
        return _invalid("unsupported query", "query")
    name, value = match.groups()
    found = [
        m
        for m in state.store.find(channel="email")
        if str(m.extras.get("custom_args", {}).get(name)) == value
    ][: max(1, min(limit, 1000))]
    return JSONResponse(
        {
            "messages": [
                {
                    "msg_id": m.extras.get("sg_message_id", m.id),
                    "from_email": m.from_,
                    "subject": m.subject,
                    "to_email": m.to,
                    "status": "delivered" if m.status == "delivered" else "processing",
                    "opens_count": 0,
                    "clicks_count": 0,
                    "last_event_time": m.received_at.isoformat(),
                }
                for m in found
            ]
        }
    )


def _html_content(content: list) -> str | None:
    by_type = {c.get("type"): c.get("value") for c in content if isinstance(c, dict)}
    value = by_type.get("text/html")
    return str(value) if value else None


def _text_content(content: list) -> str | None:
    by_type = {c.get("type"): c.get("value") for c in content if isinstance(c, dict)}
    value = by_type.get("text/plain", by_type.get("text/html"))
    return str(value) if value else None
