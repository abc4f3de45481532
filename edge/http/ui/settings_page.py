"""The Settings page: store details, the business day's end, the hub, receipts, the kitchen
screens' colours. Each change is written to the configuration file and applied: receipt.*
and kds.* at once, the rest when posedge restarts (the page says which)."""

from __future__ import annotations

from aiohttp import web

from edge.config.edit import set_settings
from edge.http.ui.config_forms import editor, when_applied
from edge.http.ui.forms import FormErrors
from edge.http.ui.pages import flash, render, require_user, see_other
from edge.http.ui.settings_forms import LABELS, form_values, masked, read_settings_form
from edge.runtime.errors import ConfigError

routes = web.RouteTableDef()

STAFF = ("manager", "technician")


async def _page(request, *, values=None, errors=None, status=200) -> web.Response:
    config_file = editor(request)
    _, config = await config_file.read()
    return render(
        request,
        "settings.html",
        status=status,
        title="Settings",
        values=values or form_values(config),
        errors=errors or {},
        labels=LABELS,
        token=masked(config.upstream.token) if config.upstream.token else "",
        waiting=config_file.waiting,
        path=str(config_file.path),
    )


@routes.get("/ui/settings", name="ui_settings")
async def settings_page(request: web.Request) -> web.Response:
    require_user(request, *STAFF)
    return await _page(request)


@routes.post("/ui/settings", name="ui_settings_save")
async def save_settings(request: web.Request) -> web.Response:
    require_user(request, *STAFF)
    form = await request.post()
    config_file = editor(request)
    _, config = await config_file.read()
    try:
        changes = read_settings_form(form, config)
        if changes:
            await config_file.change(set_settings(changes))
    except FormErrors as exc:
        return await _page(request, values=_shown(form, config), errors=exc.errors, status=400)
    except ConfigError as exc:  # a field's value, or the file itself (not writable…)
        errors = {exc.key: exc.reason} if exc.key in LABELS else {"": str(exc)}
        return await _page(request, values=_shown(form, config), errors=errors, status=400)
    if not changes:
        flash(request, "Nothing changed")
    else:
        flash(request, f"Settings saved; {when_applied({k: LABELS[k].lower() for k in changes})}")
    raise see_other("/ui/settings")


def _shown(form, config) -> dict[str, str]:
    """What the form showed, as sent (the token never echoed back)."""
    return {**form_values(config), **{key: str(form.get(key, "")) for key in LABELS}} | {
        "upstream.token": ""
    }
