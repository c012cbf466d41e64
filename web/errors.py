"""Every error answered as JSON with the right status; never a stack trace to the client.

Handlers raise :class:`ApiError` for HTTP-level refusals, or let services raise their
:class:`UserFacingError`s, whose text is written for people and safe to show. Anything else
is logged with its traceback here and answered with a bare 500.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from aiohttp import web
from aiohttp.typedefs import Handler

from core.errors import NotFoundError, PermissionDeniedError, UserFacingError
from core.rooms.api import RoomConflictError, RoomNotOpenedError
from core.tournaments.match_api import BadRequestError

log = logging.getLogger(__name__)

RETRY_OPENING_SECONDS = 5


class ApiError(Exception):
    """An HTTP refusal: ``status``, a stable ``code`` for programs, a ``message`` for
    people, and the request ``field`` it is about when there is one."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = dict(headers or {})


def from_service_error(error: UserFacingError) -> ApiError:
    """The HTTP form of a service's refusal."""
    if isinstance(error, BadRequestError):
        return ApiError(400, "invalid_field" if error.field else "invalid", error.message,
                        field=error.field)
    if isinstance(error, NotFoundError):
        return ApiError(404, "not_found", error.message)
    if isinstance(error, PermissionDeniedError):
        return ApiError(403, "forbidden", error.message)
    if isinstance(error, RoomNotOpenedError):
        if error.retry:
            return ApiError(
                503, "room_opening", error.message,
                headers={"Retry-After": str(RETRY_OPENING_SECONDS)},
            )
        return ApiError(502, "room_failed", error.message)
    if isinstance(error, RoomConflictError):
        return ApiError(409, "conflict", error.message)
    return ApiError(409, "refused", error.message)


def json_error(error: ApiError) -> web.Response:
    body: dict[str, str] = {"error": error.code, "message": error.message}
    if error.field is not None:
        body["field"] = error.field
    return web.json_response(body, status=error.status, headers=error.headers)


def _from_http(exception: web.HTTPException) -> ApiError:
    code = exception.reason.lower().replace(" ", "_")
    headers = {
        name: value for name, value in exception.headers.items() if name in ("Allow",)
    }
    return ApiError(exception.status, code, exception.reason, headers=headers)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as error:
        return json_error(error)
    except UserFacingError as error:
        return json_error(from_service_error(error))
    except web.HTTPException as exception:
        if exception.status < 400:
            raise
        return json_error(_from_http(exception))
    except Exception:
        log.exception("Unhandled error answering %s %s", request.method, request.path)
        return json_error(ApiError(500, "internal_error", "Something went wrong on our side."))
