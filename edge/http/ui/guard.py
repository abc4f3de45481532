"""The UI's middleware: finds the browser's session, refuses forms without their CSRF token,
and answers every error under /ui/ with a page (the API answers problem+json).

A browser that is not signed in gets a CSRF token of its own in a cookie, so that the
sign-in form is protected too (a double-submit token: another site can neither read the
cookie nor set it). Terminals' bearer tokens mean nothing here.
"""

from __future__ import annotations

import hmac
import secrets

from aiohttp import web

from edge.http.context import context
from edge.http.problems import problem_for
from edge.http.ui.pages import (
    PRE_SESSION_CSRF,
    SESSION,
    UI,
    FormRefused,
    UiError,
    csrf_token,
    render,
)

UI_PREFIX = "/ui/"
SESSION_COOKIE = "posedge_session"
PRE_SESSION_COOKIE = "posedge_csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
# no page of the UI in another site's frame (clickjacking), no guessing of content types
PAGE_HEADERS = {"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff"}


def set_cookie(
    request: web.Request,
    response: web.StreamResponse,
    name: str,
    value: str,
    *,
    max_age: int | None = None,
) -> None:
    """A cookie only this site's pages send back: HttpOnly, SameSite=Strict, Path=/, and
    Secure when the page came over TLS."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=request.secure,
    )


@web.middleware
async def ui_middleware(request: web.Request, handler) -> web.StreamResponse:
    """Session and CSRF for /ui/, and HTML error pages there."""
    if not request.path.startswith(UI_PREFIX):
        return await handler(request)
    new_pre_session_token = _find_session(request)
    try:
        if request.method not in SAFE_METHODS:
            await _check_form(request)
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            response = exc  # a redirect: raised on below, with any cookie set
        else:
            response = _error_page(request, exc.status, exc.reason, None)
    except UiError as exc:
        response = _error_page(request, exc.status, exc.title, str(exc))
    except Exception as exc:  # a domain error (an unknown order…), or a bug, logged
        problem = problem_for(exc)
        response = _error_page(request, problem.status, problem.title, problem.detail)
    if new_pre_session_token is not None:
        set_cookie(request, response, PRE_SESSION_COOKIE, new_pre_session_token)
    response.headers.update(PAGE_HEADERS)
    if isinstance(response, web.HTTPException):
        raise response
    return response


def _find_session(request: web.Request) -> str | None:
    """Set the request's session, or its pre-session CSRF token; return a new such token
    that the response must set as a cookie."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        session = request.app[UI].users.session(token, now=context(request).now())
        if session is not None:
            request[SESSION] = session
            return None
    known = request.cookies.get(PRE_SESSION_COOKIE, "")
    if 20 <= len(known) <= 100:
        request[PRE_SESSION_CSRF] = known
        return None
    request[PRE_SESSION_CSRF] = secrets.token_urlsafe(24)
    return request[PRE_SESSION_CSRF]


async def _check_form(request: web.Request) -> None:
    """Refuse a state-changing request that is not a form carrying this browser's token."""
    if request.content_type not in FORM_TYPES:
        raise FormRefused("only the UI's own forms may change things here")
    sent = (await request.post()).get("csrf_token")
    if not isinstance(sent, str) or not hmac.compare_digest(
        sent.encode(), csrf_token(request).encode()
    ):
        raise FormRefused(
            "the form did not carry this page's security token: it came from another site, "
            "or from a page older than your sign-in. Go back, reload the page, and try again."
        )


def _error_page(request: web.Request, status: int, title: str, detail: str | None):
    return render(request, "error.html", status=status, title=title, detail=detail)
