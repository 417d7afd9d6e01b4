"""Decoding of webhook bodies that channels read without a web framework.

Form bodies are decoded here rather than by the API because signatures cover the raw bytes, and
because multipart parsing must not depend on the API's framework extras.
"""

from __future__ import annotations

import json
from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import parse_qsl

from outreach.channels.base import MalformedWebhook, WebhookRequest


class MultiValueForm(dict[str, list[str]]):
    """Form fields with every value kept (``getlist`` is what Twilio's validator looks for)."""

    def getlist(self, name: str) -> list[str]:
        return self.get(name, [])

    def first(self, name: str, default: str | None = None) -> str | None:
        values = self.get(name)
        return values[0] if values else default


def urlencoded_form(request: WebhookRequest) -> MultiValueForm:
    """The request's urlencoded form: decoded from the raw body, else the given ``form``."""
    form = MultiValueForm()
    if request.body:
        try:
            pairs = parse_qsl(
                request.body.decode("utf-8"), keep_blank_values=True, strict_parsing=False
            )
        except UnicodeDecodeError as exc:
            raise MalformedWebhook("form body is not UTF-8") from exc
        for key, value in pairs:
            form.setdefault(key, []).append(value)
    elif request.form is not None:
        for key, value in request.form.items():
            form[key] = [value]
    return form


def multipart_form(request: WebhookRequest) -> dict[str, str]:
    """Text fields of a multipart/form-data body (files are ignored), else the given ``form``."""
    content_type = request.headers.get("Content-Type", "")
    if not request.body or "multipart/form-data" not in content_type.lower():
        return dict(request.form or {})
    try:
        head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    except UnicodeEncodeError:
        raise MalformedWebhook("Content-Type header is not Latin-1") from None
    message = BytesParser(policy=HTTP).parsebytes(head + request.body)
    if not message.is_multipart():
        raise MalformedWebhook("multipart body without parts")
    fields: dict[str, str] = {}
    for index, part in enumerate(message.iter_parts()):
        name = part.get_param("name", header="content-disposition")
        if not name or part.get_filename():
            continue
        payload = part.get_payload(decode=True) or b""
        if not isinstance(payload, bytes):
            raise MalformedWebhook(f"multipart part {index} has no readable payload")
        charset = part.get_content_charset() or "utf-8"
        try:
            fields[str(name)] = payload.decode(charset, errors="replace")
        except LookupError:
            raise MalformedWebhook(f"multipart part {index} names an unknown charset") from None
    return fields


def json_body(request: WebhookRequest) -> object:
    try:
        return json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedWebhook("body is not JSON") from exc
