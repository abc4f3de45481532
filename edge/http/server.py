"""A server for one aiohttp application on one address (the API, the peer links, the hub),
that stops in order: stop accepting, close sockets, let in-flight requests finish."""

from __future__ import annotations

import logging
import ssl

from aiohttp import web

log = logging.getLogger(__name__)


class HttpServer:
    """An application listening on one address; `stop` lets in-flight requests finish."""

    def __init__(
        self,
        app: web.Application,
        host: str,
        port: int,
        *,
        shutdown_timeout: float = 60.0,
        ssl_context: ssl.SSLContext | None = None,
        name: str = "API",
    ) -> None:
        self.app = app
        self._host = host
        self._port = port
        self._ssl = ssl_context
        self._name = name
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)

    async def start(self) -> None:
        """Listen; raises OSError when the address is taken."""
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port, ssl_context=self._ssl)
        await site.start()
        scheme = "https" if self._ssl else "http"
        log.info("%s listening on %s://%s:%d", self._name, scheme, self._host, self.port)

    @property
    def port(self) -> int:
        """The bound port (the one the OS chose, when asked for 0)."""
        addresses = self._runner.addresses
        return addresses[0][1] if addresses else self._port

    async def stop(self) -> None:
        """Stop accepting, close sockets, wait for in-flight requests (safe twice)."""
        await self._runner.cleanup()
