"""One-click unsubscribe (RFC 8058): ``/api/v1/unsubscribe/<token>``, the link every marketing
e-mail carries in ``List-Unsubscribe`` (and in its body).

- ``POST`` (what a mail client sends, with ``List-Unsubscribe=One-Click``, and what the page's
  button sends) opts the patient out of e-mail at once and answers a short page.
- ``GET`` only shows a page with that button: link scanners and previews fetch links, and must
  not unsubscribe anybody.

The token is signed (``templating.unsubscribe_links``); a forged or damaged one opens nothing
(404). Nothing personal is shown on either page.
"""

from __future__ import annotations

import logging
from html import escape
from typing import Annotated

import anyio.from_thread
from fastapi import APIRouter, Depends, Path
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from outreach.api.access import open_route
from outreach.api.dependencies import ServicesDep
from outreach.api.errors import ApiError
from outreach.api.publisher import PublishFailed, hand_over
from outreach.events import PatientOptedOutOutcome
from outreach.services.unsubscribe import unsubscribe
from outreach.templating import (
    UNSUBSCRIBE_PATH,
    InvalidUnsubscribeToken,
    UnsubscribeClaim,
    verify_unsubscribe_token,
)
from outreach.templating.unsubscribe_links import MAX_TOKEN_CHARS
from outreach.topics import OUTCOMES

logger = logging.getLogger(__name__)

router = APIRouter(
    prefix=UNSUBSCRIBE_PATH,
    tags=["unsubscribe"],
    dependencies=[Depends(open_route("the signed link in a patient's e-mail is the credential"))],
)

Token = Annotated[str, Path(max_length=MAX_TOKEN_CHARS)]

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title}</title></head>
<body style="font-family: sans-serif; max-width: 32em; margin: 3em auto;">
<h1>{title}</h1>
{body}
</body></html>
"""


def _page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=escape(title), body=body), status_code=status_code)


def _claim(token: str, services: ServicesDep) -> UnsubscribeClaim:
    secret = services.settings.portal_link_secret
    if secret is None:
        raise ApiError(503, "unavailable", "unsubscribe links are not configured")
    try:
        return verify_unsubscribe_token(token, secret.get_secret_value())
    except InvalidUnsubscribeToken:
        logger.info("unsubscribe token refused")
        raise ApiError(404, "invalid_token", "this unsubscribe link is not valid") from None


@router.get("/{token}", response_class=HTMLResponse, summary="The unsubscribe page")
def unsubscribe_page(token: Token, services: ServicesDep) -> HTMLResponse:
    """A page with one button; opening the link changes nothing (RFC 8058, section 3.2)."""
    _claim(token, services)
    return _page(
        "Unsubscribe",
        '<p>Stop receiving these e-mails?</p><form method="post">'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<button type="submit">Unsubscribe</button></form>',
    )


@router.post("/{token}", response_class=HTMLResponse, summary="One-click unsubscribe")
async def unsubscribe_now(token: Token, services: ServicesDep) -> HTMLResponse:
    """Opt the patient out of e-mail (and out of the campaign that sent it); idempotent."""
    claim = _claim(token, services)

    def publish(outcome: PatientOptedOutOutcome) -> None:
        record = (
            OUTCOMES,
            outcome.patient_id.encode() if outcome.patient_id else None,
            outcome.model_dump_json(exclude_unset=True).encode(),
        )
        anyio.from_thread.run(hand_over, services.publisher, [record])

    try:
        done = await run_in_threadpool(
            unsubscribe, services.store, claim, now=services.clock(), publish=publish
        )
    except PublishFailed:
        raise ApiError(503, "unavailable", "try again shortly") from None
    if not done.patient_known:
        raise ApiError(404, "invalid_token", "this unsubscribe link is not valid")
    logger.info(
        "patient %s unsubscribed from e-mail (campaign %s, job %s, changed %s)",
        claim.patient_id,
        claim.campaign_id,
        claim.job_id,
        done.changed,
    )
    return _page("Unsubscribed", "<p>You will receive no more e-mails from us.</p>")
