"""``/api/v1/keys``: an admin issues, lists and revokes the API keys of its own organisation.

A new key is answered once, whole; afterwards only its visible prefix exists anywhere. Issuing
and revoking are audited with the admin as actor. The first admin key of a deployment comes from
``outreach keys create``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from outreach.api.access import AdminCaller
from outreach.api.dependencies import ClockDep, StoreDep
from outreach.api.errors import ApiError, ErrorBody
from outreach.domain import Role
from outreach.services.api_keys import issue_api_key, list_api_keys, revoke_api_key
from outreach.sql.api_key_repository import StoredApiKey

router = APIRouter(prefix="/api/v1/keys", tags=["keys"])


class KeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role = Field(description="What the key may do: platform, marketer, analyst or admin.")
    name: str = Field(min_length=1, max_length=100, description="What the key is for.")


class KeyView(BaseModel):
    prefix: str = Field(description="The visible start of the key, which names it everywhere.")
    org_id: str
    role: Role
    name: str
    created_by: str
    created_at: datetime
    revoked_at: datetime | None


class IssuedKeyView(KeyView):
    key: str = Field(description="The whole key: shown this once, never stored.")


def _view(key: StoredApiKey) -> dict[str, Any]:
    return {
        "prefix": key.prefix,
        "org_id": key.org_id,
        "role": key.role,
        "name": key.name,
        "created_by": key.created_by,
        "created_at": key.created_at,
        "revoked_at": key.revoked_at,
    }


@router.post("", status_code=status.HTTP_201_CREATED, response_model=IssuedKeyView)
async def create_key(
    body: KeyRequest, store: StoreDep, clock: ClockDep, caller: AdminCaller
) -> dict[str, Any]:
    """Issue a key for the caller's organisation; the answer holds the whole key, once."""
    issued = await run_in_threadpool(
        lambda: issue_api_key(
            store,
            org_id=caller.org_id,
            role=body.role,
            name=body.name,
            actor=caller.actor,
            now=clock(),
        )
    )
    return _view(issued.key) | {"key": issued.plaintext}


@router.get("", response_model=list[KeyView])
def list_keys(store: StoreDep, caller: AdminCaller) -> list[dict[str, Any]]:
    """The organisation's keys, revoked ones included (prefixes only)."""
    return [_view(key) for key in list_api_keys(store, caller.org_id)]


@router.delete(
    "/{prefix}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"model": ErrorBody, "description": "No live key with this prefix here."}},
)
def revoke_key(
    prefix: Annotated[str, Path(max_length=16)],
    store: StoreDep,
    clock: ClockDep,
    caller: AdminCaller,
) -> None:
    """Revoke a key of the caller's organisation: it stops working at once."""
    if not revoke_api_key(store, prefix, actor=caller.actor, now=clock(), org_id=caller.org_id):
        raise ApiError(404, "not_found", "no live key with this prefix")
