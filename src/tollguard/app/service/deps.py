"""Who may call what: FastAPI dependencies that check a request's token and role."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, HTTPException, Request

from tollguard.app.service.auth import Principal, Role, token_from_header

if TYPE_CHECKING:
    from tollguard.app.service.runtime import ServiceRuntime

SWITCH = (Role.SWITCH, Role.ADMIN)
ANALYST = (Role.ANALYST, Role.ADMIN)
ADMIN = (Role.ADMIN,)
ANY = (Role.SWITCH, Role.ANALYST, Role.ADMIN)


def _require(*roles: Role) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency that admits a token of one of ``roles`` (401 without one, 403 otherwise)."""
    allowed = frozenset(roles)

    async def check(request: Request) -> Principal:
        runtime: ServiceRuntime = request.app.state.runtime
        who = runtime.tokens.principal(token_from_header(request.headers.get("authorization")))
        if who is None:
            raise HTTPException(
                401,
                "a valid API token is required (Authorization: Bearer TOKEN)",
                headers={"WWW-Authenticate": 'Bearer realm="tollguard"'},
            )
        if who.role not in allowed:
            raise HTTPException(403, f"role {who.role.value} may not use this endpoint")
        return who

    return check


AsSwitch = Annotated[Principal, Depends(_require(*SWITCH))]
AsAnalyst = Annotated[Principal, Depends(_require(*ANALYST))]
AsAdmin = Annotated[Principal, Depends(_require(*ADMIN))]
AsAny = Annotated[Principal, Depends(_require(*ANY))]


def runtime_of(request: Request) -> ServiceRuntime:
    """The service runtime behind a request."""
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime
