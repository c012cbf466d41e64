"""Bearer-token authentication, the per-token rate limit and the audit of every API call.

:func:`api_endpoint` wraps a handler: the token is checked (401 with ``WWW-Authenticate``
when missing, malformed, unknown or revoked), then counted (429 with ``Retry-After``), then
the handler runs and the call is written to the audit log with its outcome. Refused calls
(401, 429) are logged, not audited: an unauthenticated flood must not grow the database.
The token itself is never logged.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Handler

from core.accounts.api_tokens import ApiTokenInfo
from core.errors import UserFacingError
from web.errors import ApiError, from_service_error
from web.keys import API_TOKENS, RATE_LIMITER

log = logging.getLogger(__name__)

AuthedHandler = Callable[[web.Request, ApiTokenInfo], Awaitable[web.StreamResponse]]
CHALLENGE = 'Bearer realm="racedesk"'


def _unauthorized(message: str, *, invalid: bool) -> ApiError:
    challenge = f'{CHALLENGE}, error="invalid_token"' if invalid else CHALLENGE
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": challenge})


async def authenticate(request: web.Request) -> ApiTokenInfo:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise _unauthorized(
            "Send an API token as `Authorization: Bearer <token>`; organizers create one "
            "with /api-token create.",
            invalid=False,
        )
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("The Authorization header must be `Bearer <token>`.", invalid=True)
    found = await request.app[API_TOKENS].authenticate(token.strip())
    if found is None:
        log.warning("API call with an unknown or revoked token from %s", request.remote)
        raise _unauthorized("The API token is unknown or was revoked.", invalid=True)
    return found


def api_endpoint(action: str) -> Callable[[AuthedHandler], Handler]:
    """Authenticate, rate-limit and audit (as ``action``) every call of the handler."""

    def decorator(handler: AuthedHandler) -> Handler:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            token = await authenticate(request)
            wait = request.app[RATE_LIMITER].hit(token.id)
            if wait is not None:
                log.warning("API token %d (%s) is over its rate limit", token.id, token.name)
                raise ApiError(
                    429, "rate_limited",
                    f"Too many requests; try again in {wait} seconds.",
                    headers={"Retry-After": str(wait)},
                )
            status = 500
            try:
                response = await handler(request, token)
                status = response.status
                return response
            except ApiError as error:
                status = error.status
                raise
            except UserFacingError as error:
                status = from_service_error(error).status
                raise
            finally:
                details = {"method": request.method, "path": request.path, "status": status}
                details.update(request.match_info)
                await request.app[API_TOKENS].record_call(token, action, details)

        return wrapped

    return decorator
