"""The manager UI's assembly: its state, its middleware and the routes of every page module.

A page module exposes `routes = web.RouteTableDef()`; adding one to PAGE_MODULES is all it
takes to serve it.
"""

from __future__ import annotations

from aiohttp import web

from edge.access.users import UserStore
from edge.http.ui import (
    assets,
    dashboard,
    devices_page,
    menu_page,
    orders_page,
    settings_page,
    signin,
    staff_page,
    store_ca_page,
    terminals_page,
)
from edge.http.ui.pages import UI, UiState, template_environment
from edge.runtime.logs import LogLimiter
from sync.membership.throttle import AttemptThrottle

PAGE_MODULES = (
    signin,
    assets,
    dashboard,
    orders_page,
    devices_page,
    terminals_page,
    staff_page,
    menu_page,
    settings_page,
    store_ca_page,
)


def ui_routes() -> list[web.AbstractRouteDef]:
    """Every route of the UI's page modules."""
    return [route for module in PAGE_MODULES for route in module.routes]


def install_ui(app: web.Application, users: UserStore) -> None:
    """Serve the UI from `app` (whose middlewares include `guard.ui_middleware`), to `users`."""
    app[UI] = UiState(
        users=users,
        templates=template_environment(),
        address_throttle=AttemptThrottle(per_address=5, total=50),
        name_throttle=AttemptThrottle(per_address=5, total=50),
        refusals=LogLimiter(signin.log),
    )
    app.add_routes(ui_routes())
