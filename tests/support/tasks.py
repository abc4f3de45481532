"""A background task a test runs for the length of a block, cancelled and awaited after."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine


async def cancel(task: asyncio.Task) -> None:
    """Cancel `task` and wait until it has ended (its cancellation is not an error)."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@contextlib.asynccontextmanager
async def running(coroutine: Coroutine) -> AsyncIterator[asyncio.Task]:
    """`coroutine` as a task while in the block; cancelled and awaited on the way out."""
    task = asyncio.create_task(coroutine)
    try:
        yield task
    finally:
        await cancel(task)
