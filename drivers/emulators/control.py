"""A small HTTP control panel for an emulated printer: its switches and what it printed.

GET /state, POST /state (a JSON object of switches), GET /papers (the texts of the cut
pieces), GET /papers/N.png (piece N of that list, from 0), GET / (a page showing all of it,
refreshed every 2 s, with no external assets).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from drivers.emulators.printer_engine import PrinterEngine
from drivers.escpos.printout_image import render_png


class ControlServer:
    """Serves the control panel of `printer` on host:port (port 0 picks one: see `.port`)."""

    def __init__(self, printer: PrinterEngine, host: str = "127.0.0.1", port: int = 0) -> None:
        self.printer = printer
        self.host, self.port = host, port
        self._runner: web.AppRunner | None = None
        self._pngs: dict[int, bytes] = {}  # a cut piece never changes: render it once

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/", self._page)
        app.router.add_get("/state", self._get_state)
        app.router.add_post("/state", self._post_state)
        app.router.add_get("/papers", self._papers)
        app.router.add_get(r"/papers/{index:\d+}.png", self._png)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        """Stop serving; safe twice."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _page(self, request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    async def _get_state(self, request: web.Request) -> web.Response:
        return web.json_response(self.printer.state)

    async def _post_state(self, request: web.Request) -> web.Response:
        try:
            changes: Any = json.loads(await request.text())
            if not isinstance(changes, dict):
                raise ValueError("expected a JSON object of switches")
            self.printer.set_state(changes)
        except ValueError as exc:  # JSONDecodeError is a ValueError too
            problem = {"type": "about:blank", "title": "Bad state", "status": 400}
            problem["detail"] = str(exc)
            return web.json_response(problem, status=400, content_type="application/problem+json")
        return web.json_response(self.printer.state)

    async def _papers(self, request: web.Request) -> web.Response:
        return web.json_response([paper.text for paper in self.printer.papers])

    async def _png(self, request: web.Request) -> web.Response:
        index = int(request.match_info["index"])
        papers = self.printer.papers
        if index >= len(papers):
            raise web.HTTPNotFound(text=f"no paper {index}: {len(papers)} printed")
        if index not in self._pngs:
            self._pngs[index] = render_png(papers[index])
        return web.Response(body=self._pngs[index], content_type="image/png")


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Emulated printer</title>
<style>
body { font-family: sans-serif; margin: 1em; background: #ddd; }
#switches label { margin-right: 1em; }
#papers img { display: block; margin: 1em 0; background: #fff; box-shadow: 0 0 4px #888; }
</style></head>
<body>
<h1>Emulated printer</h1>
<form id="switches">
<label><input type="checkbox" name="online"> online</label>
<label><input type="checkbox" name="paper_out"> paper out</label>
<label><input type="checkbox" name="paper_near_end"> paper low</label>
<label><input type="checkbox" name="cover_open"> cover open</label>
<label><input type="checkbox" name="drawer_open"> drawer open</label>
<label><input type="checkbox" name="error"> error</label>
<label>seconds per line <input type="number" name="slow" min="0" step="0.1" size="4"></label>
</form>
<p id="status"></p>
<div id="papers"></div>
<script>
const form = document.getElementById("switches");
async function post(change) {
  await fetch("/state", {method: "POST", headers: {"Content-Type": "application/json"},
                         body: JSON.stringify(change)});
  refresh();
}
form.addEventListener("change", (event) => {
  const input = event.target;
  post({[input.name]: input.type === "checkbox" ? input.checked : Number(input.value)});
});
let shown = 0;
async function refresh() {
  const state = await (await fetch("/state")).json();
  for (const input of form.elements) {
    if (!(input.name in state) || input === document.activeElement) continue;
    if (input.type === "checkbox") input.checked = state[input.name];
    else input.value = state[input.name];
  }
  if (!("online" in state)) form.elements.online.parentElement.hidden = true;
  document.getElementById("status").textContent =
    `${state.papers} pieces printed, ${state.pending_bytes} bytes waiting`;
  const papers = document.getElementById("papers");
  for (; shown < state.papers; shown++) {
    const img = document.createElement("img");
    img.src = `/papers/${shown}.png`;
    img.alt = `piece ${shown}`;
    papers.prepend(img);
  }
}
refresh();
setInterval(refresh, 2000);
</script>
</body></html>
"""
