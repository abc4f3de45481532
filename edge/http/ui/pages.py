"""What every page of the manager UI uses: rendering, the signed-in user, flash messages.

This is the interface the UI's page modules are written against; keep it stable:

- `render(request, "page.html", **values)` renders a template (which extends `base.html`,
  filling its blocks `title` and `content`) with `user`, `csrf_token`, `nav` and `flashes`
  added to `values`; forms put `{{ csrf_field() }}` inside each `<form method="post">`.
- `require_user(request, *roles)` is the first line of a handler: the signed-in user, or a
  redirect to the sign-in page, or a 403 page when the user's role is not among `roles`.
- `flash(request, text, kind)` tells the user, on the next page shown, what an action did;
  a POST handler flashes, then `raise see_other("/ui/…")` (POST-redirect-GET).
- `render_fragment(request, "part.html", **values)` renders a part of a page alone, for a
  script that refreshes it.
- `context(request)` (edge/http/context.py) reaches the node's order book, devices, peers…

Templates live in edge/http/web/ui/ (their scripts and styles too, served at /ui/assets/NAME);
an undefined variable is an error, not an empty string; `amount | money(currency)` and
`stamp | local_time(zone)` format amounts and times.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import jinja2
from aiohttp import web
from markupsafe import Markup

from edge.access.users import Session, User, UserStore
from edge.http.ui.formats import local_time
from edge.orders.money import format_money
from edge.runtime.logs import LogLimiter
from sync.membership.throttle import AttemptThrottle

TEMPLATES = Path(__file__).resolve().parent.parent / "web" / "ui"

# (label, path, roles that see it); the longest path that prefixes the request's is active
NAV: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Dashboard", "/ui/", ("manager", "technician")),
    ("Orders", "/ui/orders", ("manager",)),
    ("Devices", "/ui/devices", ("manager", "technician")),
    ("Terminals & nodes", "/ui/terminals", ("manager", "technician")),
    ("Staff", "/ui/staff", ("manager",)),
    ("Menu", "/ui/menu", ("manager",)),
    ("Settings", "/ui/settings", ("manager", "technician")),
)


class UiError(Exception):
    """Root of the errors the UI answers with a page of its own."""

    status = 400
    title = "This cannot be done"


class RoleNotAllowed(UiError):
    """The signed-in user's role may not see or do this."""

    status = 403
    title = "Your role does not allow this"


class FormRefused(UiError):
    """A form came without this session's CSRF token (an old page, or another site)."""

    status = 403
    title = "This form was refused"


@dataclass(slots=True)
class UiState:
    """The UI's parts, one per application."""

    users: UserStore
    templates: jinja2.Environment
    address_throttle: AttemptThrottle  # failed sign-ins per client address
    name_throttle: AttemptThrottle  # failed sign-ins per user name
    refusals: LogLimiter  # the log of refused sign-ins, a line per address a minute


UI = web.AppKey("ui", UiState)
SESSION = web.RequestKey("ui_session", Session)  # set when the browser is signed in
PRE_SESSION_CSRF = web.RequestKey("ui_pre_session_csrf", str)  # the sign-in form's token


def template_environment() -> jinja2.Environment:
    """Templates from edge/http/web/ui, autoescaped, with `csrf_field()` and the filters `money`
    (`amount | money(currency)`) and `local_time` (`stamp | local_time(zone)`)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["csrf_field"] = _csrf_field
    env.filters["money"] = format_money
    env.filters["local_time"] = local_time
    return env


@jinja2.pass_context
def _csrf_field(ctx: jinja2.runtime.Context) -> Markup:
    """The hidden input every POST form carries."""
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(ctx["csrf_token"])


def session_of(request: web.Request) -> Session | None:
    """The browser's session, or None when it is not signed in."""
    return request.get(SESSION)


def csrf_token(request: web.Request) -> str:
    """The token this browser's forms must carry."""
    session = session_of(request)
    return session.csrf_token if session is not None else request[PRE_SESSION_CSRF]


def require_user(request: web.Request, *roles: str) -> User:
    """The signed-in user, allowed one of `roles` (any role when none are given).

    Raises a 303 to the sign-in page (coming back here after) when nobody is signed in,
    RoleNotAllowed (a 403 page) when the user's role is not allowed.
    """
    session = session_of(request)
    if session is None:
        back = request.path_qs if request.method == "GET" else "/ui/"
        raise web.HTTPSeeOther(request.app.router["ui_signin"].url_for().with_query(next=back))
    if roles and session.user.role not in roles:
        raise RoleNotAllowed(
            f"{session.user.name} is signed in as a {session.user.role}; "
            f"this needs a {' or '.join(roles)}"
        )
    return session.user


def flash(request: web.Request, text: str, kind: Literal["ok", "error"] = "ok") -> None:
    """Show `text` on the next page this session sees (after the redirect of a POST)."""
    session = session_of(request)
    if session is None:
        return  # nobody to tell: only signed-in users change things
    session.flashes.append({"text": text, "kind": kind})
    request.app[UI].users.save_flashes(session)


def see_other(location: str) -> web.HTTPSeeOther:
    """The redirect that ends a POST handler: `raise see_other("/ui/orders")`."""
    return web.HTTPSeeOther(location)


def nav_for(request: web.Request, user: User | None) -> list[dict]:
    """The navigation entries `user` may follow, the current page's marked active."""
    if user is None:
        return []
    current = max(
        (path for _, path, _ in NAV if request.path.startswith(path.rstrip("/") or "/")),
        key=len,
        default=None,
    )
    return [
        {"label": label, "href": path, "active": path == current}
        for label, path, roles in NAV
        if user.role in roles
    ]


def render(
    request: web.Request, template_name: str, *, status: int = 200, **values: object
) -> web.Response:
    """The page `template_name` filled with `values`, and `user`, `csrf_token`, `nav` and
    `flashes` (which are shown once: rendering them clears them)."""
    state = request.app[UI]
    session = session_of(request)
    flashes: list[dict] = []
    if session is not None and session.flashes:
        flashes, session.flashes = session.flashes, []
        state.users.save_flashes(session)
    user = session.user if session is not None else None
    page = state.templates.get_template(template_name).render(
        {
            "user": user,
            "csrf_token": csrf_token(request),
            "nav": nav_for(request, user),
            "flashes": flashes,
            **values,
        }
    )
    return web.Response(
        text=page,
        status=status,
        content_type="text/html",
        headers={"Cache-Control": "no-store"},
    )


def render_fragment(request: web.Request, template_name: str, **values: object) -> web.Response:
    """A part of a page (no `base.html`), for a script that refreshes it: `values` and
    `user` only, no flashes (those stay for the next whole page)."""
    session = session_of(request)
    html = (
        request.app[UI]
        .templates.get_template(template_name)
        .render({"user": session.user if session else None, **values})
    )
    return web.Response(text=html, content_type="text/html", headers={"Cache-Control": "no-store"})
