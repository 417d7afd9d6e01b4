"""Who may call a route: authentication, the role each route admits, and the caller's org.

Every route declares its access with exactly one rule, a dependency, and ``create_api_app``
refuses to build an app with a route that declares none (``require_declared_access``):

- ``allow(Role.MARKETER, Role.ADMIN)`` admits callers whose credential carries one of those
  roles, and hands the route a ``Caller``: the verified principal (actor, organisation, role)
  plus the request's address and user agent, for the audit log;
- ``open_route("why")`` admits anyone, for routes whose caller proves itself otherwise
  (a provider's signature, a signed portal link) or that say nothing about anyone (health).

Credentials: an API key in ``X-API-Key``, or a single sign-on JWT as ``Authorization: Bearer``
(``bearer_tokens.py``). No credential, or one that does not verify, is a 401; a valid credential
whose role the route does not admit is a 403. The organisation always comes from the
credential: a body or path that names another one is refused, and another organisation's
objects answer 404 exactly like missing ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, Security
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from outreach.api.bearer_tokens import InvalidBearerToken
from outreach.api.errors import ApiError
from outreach.domain import Actor, AuditRecord, Principal, Role
from outreach.services.api_keys import authenticate_api_key

API_KEY_HEADER = "X-API-Key"
_MAX_USER_AGENT_CHARS = 255

api_key_scheme = APIKeyHeader(
    name=API_KEY_HEADER,
    scheme_name="apiKey",
    description="An API key (`outreach keys create`, or `POST /api/v1/keys` by an admin): "
    "scoped to one organisation and one role.",
    auto_error=False,
)
bearer_scheme = HTTPBearer(
    scheme_name="bearerAuth",
    bearerFormat="JWT",
    description="A single sign-on JWT from the configured issuer, with `org_id` and `role` claims.",
    auto_error=False,
)


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated caller of one request."""

    principal: Principal
    ip: str | None
    user_agent: str | None

    @property
    def org_id(self) -> str:
        return self.principal.org_id

    @property
    def role(self) -> Role:
        return self.principal.role

    @property
    def actor(self) -> Actor:
        return Actor(self.principal.actor, self.org_id, self.ip, self.user_agent)

    def audit(
        self,
        action: str,
        at: datetime,
        *,
        patient_id: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> AuditRecord:
        return self.actor.audit(action, at, patient_id=patient_id, detail=detail)

    def own_org(self, named: str | None, location: str) -> str:
        """The caller's organisation; a request naming another one is refused (403)."""
        if named is not None and named != self.org_id:
            raise ApiError(
                403,
                "forbidden",
                [
                    {
                        "loc": location,
                        "msg": "must be the organisation of the credential (or left out)",
                        "type": "value_error",
                    }
                ],
            )
        return self.org_id


def _unauthenticated(detail: str) -> ApiError:
    return ApiError(401, "unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})


def _user_agent(request: Request) -> str | None:
    value = request.headers.get("user-agent")
    if not value:
        return None
    return "".join(c for c in value if c.isprintable())[:_MAX_USER_AGENT_CHARS] or None


def authenticate(
    request: Request, api_key: str | None, bearer: HTTPAuthorizationCredentials | None
) -> Principal:
    """The principal of a verified credential, or a 401."""
    services = request.app.state.services
    if api_key:
        principal = authenticate_api_key(services.store, api_key.strip())
        if principal is None:
            raise _unauthenticated("unknown, malformed or revoked API key")
        return principal
    if bearer is not None:
        verifier = services.bearer_tokens
        if verifier is None:
            raise _unauthenticated("bearer tokens are not configured; use an API key")
        try:
            return verifier.principal(bearer.credentials)
        except InvalidBearerToken as error:
            raise _unauthenticated(f"invalid bearer token: {error}") from None
    raise _unauthenticated(f"credentials required: {API_KEY_HEADER} or Authorization: Bearer")


def caller_of(request: Request, principal: Principal) -> Caller:
    """The caller of ``request``, once ``principal`` is verified."""
    client = request.client
    return Caller(principal, client.host if client else None, _user_agent(request))


class RoleGuard:
    """The dependency ``allow`` builds: authenticates, then checks the role."""

    def __init__(self, roles: frozenset[Role]) -> None:
        self.roles = roles

    def __call__(
        self,
        request: Request,
        api_key: Annotated[str | None, Security(api_key_scheme)],
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
    ) -> Caller:
        principal = authenticate(request, api_key, bearer)
        if principal.role not in self.roles:
            raise ApiError(
                403,
                "forbidden",
                f"role {principal.role.value} may not call this route; it admits "
                + ", ".join(sorted(r.value for r in self.roles)),
            )
        return caller_of(request, principal)

    def __repr__(self) -> str:
        return f"allow({', '.join(sorted(r.value for r in self.roles))})"


class OpenAccess:
    """The dependency ``open_route`` builds: admits anyone; ``reason`` says why that is safe."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __call__(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"open_route({self.reason!r})"


def allow(*roles: Role) -> RoleGuard:
    """Admit callers with one of ``roles``; the route receives their ``Caller``."""
    if not roles:
        raise ValueError("allow() needs at least one role")
    return RoleGuard(frozenset(roles))


def open_route(reason: str) -> OpenAccess:
    """Admit anyone: for routes authenticated otherwise (signatures, signed links) or public."""
    if not reason.strip():
        raise ValueError("an open route says why it is open")
    return OpenAccess(reason)


AccessRule = RoleGuard | OpenAccess


def _rules(dependant: Dependant) -> Iterator[AccessRule]:
    for dependency in dependant.dependencies:
        if isinstance(dependency.call, RoleGuard | OpenAccess):
            yield dependency.call
        yield from _rules(dependency)


def access_rules(route: APIRoute) -> list[AccessRule]:
    """The access rules a route declares (directly or through its router)."""
    return list(_rules(route.dependant))


def api_routes(app: FastAPI) -> Iterator[APIRoute]:
    """Every API route of ``app``, through included routers (FastAPI's own /openapi.json and
    /docs are not API routes). Recent FastAPI versions wrap included routers lazily."""
    for route in app.routes:
        if isinstance(route, APIRoute):
            yield route
            continue
        contexts = getattr(route, "effective_route_contexts", None)
        for context in contexts() if callable(contexts) else ():
            if isinstance(context.original_route, APIRoute):
                yield context.original_route


def require_declared_access(app: FastAPI) -> None:
    """Refuse an app with a route that declares no access rule, or more than one."""
    problems = []
    for route in api_routes(app):
        count = len(access_rules(route))
        if count != 1:
            methods = ",".join(sorted(route.methods))
            problems.append(f"{methods} {route.path}: {count} access rules")
    if problems:
        raise RuntimeError(
            "every route declares exactly one access rule (allow(...) or open_route(...)): "
            + "; ".join(problems)
        )


def document_access(app: FastAPI, schema: dict[str, Any]) -> None:
    """In an OpenAPI document of ``app``: every guarded operation lists the roles it admits
    (``x-roles``, and a sentence in its description) and its 401 and 403 answers."""
    error_ref = {"$ref": "#/components/schemas/ErrorBody"}
    answers = {
        "401": "No credential, or one that does not verify.",
        "403": "The credential's role may not call this, or the request names another "
        "organisation.",
    }
    for route in api_routes(app):
        guards = [rule for rule in access_rules(route) if isinstance(rule, RoleGuard)]
        operations = schema.get("paths", {}).get(route.path_format, {})
        if not guards:
            continue
        roles = sorted(r.value for r in guards[0].roles)
        for method in route.methods:
            operation = operations.get(method.lower())
            if operation is None:
                continue
            operation["x-roles"] = roles
            operation["description"] = (
                operation.get("description", "").rstrip() + f"\n\nRoles: {', '.join(roles)}."
            ).lstrip()
            for code, description in answers.items():
                operation.setdefault("responses", {}).setdefault(
                    code,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": error_ref}},
                    },
                )


# The rules routes share, as parameter types: ``def route(caller: PlatformCaller)``.
PlatformCaller = Annotated[Caller, Depends(allow(Role.PLATFORM))]
TemplateEditor = Annotated[Caller, Depends(allow(Role.MARKETER, Role.ADMIN))]
AdminCaller = Annotated[Caller, Depends(allow(Role.ADMIN))]
