"""How a posedge process (a node's daemon, the hub) stops: a first SIGTERM or SIGINT asks
for a graceful stop, a second skips the drain; the background tasks run in one TaskGroup
until then; closing steps run under a deadline the second signal cuts short."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Iterator

log = logging.getLogger(__name__)


class Stopping:
    """The stop a process was asked for: `stop` on the first signal, `hurry` on the second."""

    def __init__(self) -> None:
        self.stop = asyncio.Event()
        self.hurry = asyncio.Event()

    def request(self, signum: int | None = None) -> None:
        """Begin a graceful stop; asked twice, stop without draining."""
        if self.stop.is_set():
            log.warning("second stop signal: skipping the drain")
            self.hurry.set()
        else:
            name = signal.Signals(signum).name if signum else "request"
            log.info("stopping on %s", name, extra={"signal": name})
            self.stop.set()

    @contextlib.contextmanager
    def on_signals(self, hangup: Callable[[], None] | None = None) -> Iterator[None]:
        """Take SIGTERM and SIGINT (and SIGHUP, when `hangup` is given) while in the block."""
        loop = asyncio.get_running_loop()
        taken = [signal.SIGTERM, signal.SIGINT]
        for signum in taken:
            loop.add_signal_handler(signum, self.request, signum)
        if hangup is not None:
            loop.add_signal_handler(signal.SIGHUP, hangup)
            taken.append(signal.SIGHUP)
        try:
            yield
        finally:
            for signum in taken:
                loop.remove_signal_handler(signum)

    async def finish(self, step: Awaitable[None], *, within: float, what: str) -> bool:
        """Await a closing `step` for at most `within` seconds, or until a second signal;
        abandon it then (logged). Whether it finished."""
        hurry = asyncio.create_task(self.hurry.wait())
        task = asyncio.ensure_future(step)
        done, _ = await asyncio.wait(
            [task, hurry], timeout=within, return_when=asyncio.FIRST_COMPLETED
        )
        hurry.cancel()
        if task not in done:
            log.error("%s did not finish within %.1f s; abandoning it", what, within)
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return task in done


async def run_until_stopped(tasks: dict[str, Awaitable[None]], stop: asyncio.Event) -> bool:
    """Run `tasks` (name -> coroutine) in one TaskGroup until `stop` is set or one fails;
    every task is cancelled and awaited on return. Whether they all held (none failed)."""
    running: list[asyncio.Task] = []
    held = True
    try:
        async with asyncio.TaskGroup() as group:
            running += [group.create_task(task, name=name) for name, task in tasks.items()]
            await stop.wait()
            raise _Stopped
    except* _Stopped:
        pass
    except* Exception:
        held = False
        for task in running:
            if task.done() and not task.cancelled() and task.exception():
                log.error("task %s failed, stopping", task.get_name(), exc_info=task.exception())
    return held


class _Stopped(Exception):
    """Raised in the TaskGroup once a stop is asked for, so that it cancels its tasks."""
