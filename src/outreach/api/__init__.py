"""The HTTP API (FastAPI): scheduling, comm-context, preferences, templates, keys, portal, webhooks.

Every route declares who may call it, once, with a dependency from ``outreach.api.access``;
``create_api_app`` refuses a route that declares none::

    from outreach.api.access import Caller, allow, open_route
    from outreach.domain import Role

    @router.get("/api/v1/segments/{segment_id}")
    def segment(segment_id: int,
                caller: Annotated[Caller, Depends(allow(Role.MARKETER, Role.ADMIN))]): ...

    # or for every route of a router:
    router = APIRouter(dependencies=[Depends(allow(Role.ANALYST, Role.ADMIN))])

The route then scopes every query by ``caller.org_id`` (another organisation's object is a 404,
like a missing one), refuses a body naming another organisation (``caller.own_org``), and
audits changes with ``caller.audit(...)``. ``open_route("why")`` is for routes whose caller
proves itself otherwise (signatures, signed links) or that say nothing about anyone.
See docs/security.md.
"""

from outreach.api.app import create_api_app
from outreach.api.publisher import EventPublisher, PublishFailed

__all__ = ["EventPublisher", "PublishFailed", "create_api_app"]
