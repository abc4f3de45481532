"""The UI's stylesheet, script and icons, shipped in edge/http/web/ui (nothing from the
internet)."""

from __future__ import annotations

from aiohttp import web

from edge.http.ui.pages import TEMPLATES

routes = web.RouteTableDef()

ASSET_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}


@routes.get("/ui/assets/{name}")
async def asset(request: web.Request) -> web.FileResponse:
    name = request.match_info["name"]
    path = TEMPLATES / name
    if "/" in name or path.suffix not in ASSET_TYPES or not path.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(
        path, headers={"Content-Type": ASSET_TYPES[path.suffix], "Cache-Control": "no-cache"}
    )
