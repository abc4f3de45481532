"""One printer's worker: prints its jobs in order, keeps its status, and fails over.

The worker takes the oldest queued job, renders it (with a REPRINT, LATE or backup mark when
due), commits `sending`, and hands the bytes to the printer, which answers only once it has
printed them. A failure puts the job back in the queue: marked as a reprint when bytes may
have gone out, not when nothing was sent. Retries back off up to a cap. When the printer has
been unusable for its `failover_after` and it has a backup, its waiting jobs (and new ones,
until it is usable again) move to the backup, marked with the printer they were meant for;
a backup another node drives takes its kitchen tickets instead, while the worker holds its
jobs, until the printer is usable again and that node has let them go
(edge/devices/standins.py). Between jobs the worker polls the printer's status and logs
each change.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol
from zoneinfo import ZoneInfo

from drivers.errors import (
    ConnectionLost,
    DeviceTimeout,
    DeviceUnreachable,
    DriverError,
    PrinterNotReady,
)
from drivers.escpos.status import PrinterStatus
from drivers.printer import EscPosPrinter
from edge.config.devices import PrinterConfig
from edge.config.model import PrintSettings
from edge.printing.fields import LayoutError
from edge.printing.jobs import Job, JobStore
from edge.printing.layout import Marks, render
from edge.printing.logo import ReceiptLogo
from edge.runtime.errors import StorageError
from edge.runtime.retry import Retry
from sync.errors import SyncError

log = logging.getLogger(__name__)


@dataclass(slots=True)
class PrinterState:
    """What is known about one printer now, for the API, /metrics and the logs."""

    state: str = "unknown"  # unknown, ready, problem, offline
    problems: tuple[str, ...] = ()  # short words: offline, paper out, cover open, …
    detail: str | None = None  # what the last failure said, for people
    status: PrinterStatus | None = None
    since: float | None = None  # when `state` last changed
    unusable_since: float | None = None
    failed_over: bool = False
    printed: int = 0  # jobs printed since start

    def to_dict(self) -> dict:
        return {
            "state": self.state,
            "problems": list(self.problems),
            "detail": self.detail,
            "status": None if self.status is None else self.status.to_dict(),
            "since": self.since,
            "failed_over": self.failed_over,
        }


class Verdict(Protocol):
    reprint: bool
    skip_reason: str | None


class Facts(Protocol):
    """Where a store printer's worker records what it sent and printed, and learns what
    other nodes did with a job's ticket (edge/kitchen/print_facts.py)."""

    async def check(self, job: Job, taken: object | None = None) -> Verdict: ...

    async def sent(self, job: Job, printer: str) -> None: ...

    async def printed(self, job: Job, printer: str) -> None: ...


class RemoteBackup(Protocol):
    """The handover of a printer's tickets to a backup another node drives
    (edge/devices/standins.py)."""

    def state(self, printer: str) -> tuple[str, str] | None: ...

    async def stand_in(self, printer: str, backup: str) -> None: ...

    async def give_back(self, printer: str, backup: str) -> None: ...

    def taken_back(self, printer: str, failover_after: float) -> tuple[bool, object | None]: ...


class PrinterWorker:
    """Prints the jobs of one printer; owns its connection and its status."""

    def __init__(
        self,
        config: PrinterConfig,
        jobs: JobStore,
        *,
        settings: PrintSettings,
        zone: ZoneInfo,
        now: Callable[[], float],
        logo: ReceiptLogo,
        backup: PrinterWorker | None = None,
        facts: Facts | None = None,
        remote: RemoteBackup | None = None,
    ) -> None:
        self.config = config
        self.jobs = jobs
        self.settings = settings
        self.zone = zone
        self.now = now
        self.backup = backup
        self.logo = logo
        self.facts = facts  # the store's printers, and those with a backup on another node
        self.remote = remote  # set when the backup is a printer another node drives
        self._taken: object | None = None  # how its tickets came back from a node gone away
        self.printer = EscPosPrinter(config.url)
        self.state = PrinterState()
        self._wake = asyncio.Event()
        self._idle_now = False  # waiting with nothing queued
        self._handed: Job | None = None
        cap = settings.retry_max_interval  # print.db too: the disk may have room any moment
        self._printer_retry = Retry(log, base=0.25, cap=cap, jitter="equal")
        self._db_retry = Retry(log, base=0.5, cap=cap, level=logging.ERROR)

    def wake(self) -> None:
        """There may be a new job: look now rather than at the next poll."""
        self._wake.set()

    def reserve(self) -> bool:
        """Reserve this worker, if it is idle, for a job about to be recorded as `sending`
        and handed to it with `hand`: one commit less between a fire and its ticket."""
        if not self._idle_now or self._handed is not None or self.state.failed_over:
            return False
        self._idle_now = False
        return True

    def hand(self, job: Job | None) -> None:
        """Give the reserved worker its job (None: there is none after all)."""
        self._handed = job
        self.wake()

    async def run(self) -> None:
        """Print jobs until cancelled (then the connection closes)."""
        if self.remote is not None and self.remote.state(self.config.id) is not None:
            self.state.failed_over = True  # its backup has its tickets: held until given back
        try:
            while True:
                try:
                    await self._step()
                except StorageError as exc:  # print.db unusable (disk full?): wait, retry
                    await self._storage_failed(exc)
                else:
                    self._storage_works()
        finally:
            with contextlib.suppress(Exception):
                await self.printer.close()

    async def _storage_failed(self, exc: StorageError) -> None:
        self._db_retry.failed("printer %s: print.db: %s; retrying", self.config.name, exc)
        await asyncio.sleep(self._db_retry.delay())

    def _storage_works(self) -> None:
        self._db_retry.succeeded("printer %s: print.db works again", self.config.name)

    async def _record(self, write: Callable[[], Awaitable[None]]) -> None:
        """Record what became of a job, however long print.db refuses: the paper already
        shows it, so it must not be forgotten (the job would print again after a restart)."""
        while True:
            try:
                await write()
            except StorageError as exc:
                await self._storage_failed(exc)
            else:
                self._storage_works()
                return

    async def _step(self) -> None:
        """Print the next job, or wait for one (handing jobs to the backup when failed over)."""
        if self.state.failed_over and self.backup and not self.backup.state.failed_over:
            await self._hand_to_backup()
        if self.state.failed_over and self.remote is not None:
            await self._hold_for_remote_backup(self.remote)
        job, self._handed = self._handed, None
        if job is None and not self.state.failed_over:
            job = await self.jobs.claim_next(self.config.id)
        if job is None:
            await self._idle()
        elif not await self._attempt(job):
            await self._back_off()

    async def _idle(self) -> None:
        """Wait for a job or the next status poll, then poll."""
        self._wake.clear()
        self._idle_now = True
        try:
            await self._woken_within(self.settings.status_interval)
        finally:
            self._idle_now = False
        if not self._wake.is_set() or self.state.failed_over:
            await self.poll_status()

    async def poll_status(self) -> None:
        try:
            status = await self.printer.status()
        except DriverError as exc:
            self._unusable(_state_of(exc), _problems_of(exc), _reason(exc))
        else:
            self._observe(status)

    async def _back_off(self) -> None:
        self._printer_retry.failed()  # logged as the printer's state changes
        self._wake.clear()
        await self._woken_within(self._printer_retry.delay())

    async def _woken_within(self, seconds: float) -> None:
        """Wait until woken, at most `seconds`. asyncio.timeout, not wait_for: Python 3.11's
        wait_for drops a cancellation that lands as the event is set, and the worker then
        never stopped (a reload that cancelled it as a job woke it hung)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()

    async def _attempt(self, job: Job) -> bool:
        """One try at printing `job` (claimed: marked sending); returns whether it printed.
        A ticket for a store printer that another node printed meanwhile is skipped, and
        one it may have printed carries a REPRINT mark."""
        if self.facts is not None:
            verdict = await self.facts.check(job, self._taken)
            if verdict.skip_reason is not None:
                skip = functools.partial(self.jobs.skip, job.id, error=verdict.skip_reason)
                await self._record(skip)
                return True
            if verdict.reprint:
                job = dataclasses.replace(job, reprint=True)
        marks = self._marks(job)
        try:
            data = render(
                job.document,
                profile=self.config.profile,
                marks=marks,
                zone=self.zone,
                width=self.config.width,
                logo=self.logo.image() if job.kind == "receipt" else None,
            )
        except LayoutError as exc:  # a document this version cannot lay out: keep, skip
            log.error("print job %d cannot be laid out: %s; skipped", job.id, exc)
            error = f"cannot be laid out: {exc}"
            await self._record(functools.partial(self.jobs.skip, job.id, error=error))
            return True
        if self.facts is not None:
            await self.facts.sent(job, self.config.id)
        try:
            await self.printer.print_job(
                data, ack_timeout=self.settings.ack_timeout, on_status=self._observe
            )
        except DriverError as exc:
            await self._failed(job, exc)
            return False
        await self._record(
            functools.partial(
                self.jobs.mark_printed, job.id, now=self.now(), marks=dataclasses.asdict(marks)
            )
        )
        if self.facts is not None:
            await self.facts.printed(job, self.config.id)
        self._printer_retry.succeeded()
        self.state.printed += 1
        if self.state.state != "ready":
            self._set_state("ready", (), None)
        self.state.unusable_since = None
        return True

    async def _failed(self, job: Job, exc: DriverError) -> None:
        """Put `job` back after a failed attempt, marked as a reprint if bytes may have gone
        out; a job sent but never confirmed is first taken back from the printer."""
        if isinstance(exc, DeviceTimeout):
            with contextlib.suppress(DriverError):
                await self.printer.clear_buffer()
        nothing_sent = isinstance(exc, PrinterNotReady | DeviceUnreachable) or (
            isinstance(exc, ConnectionLost) and not exc.partial
        )
        error = _reason(exc)
        await self._record(
            functools.partial(self.jobs.requeue, job.id, error=error, reprint=not nothing_sent)
        )
        self._unusable(_state_of(exc), _problems_of(exc), error)

    def _marks(self, job: Job) -> Marks:
        late = self.now() - job.event_at
        return Marks(
            reprint=job.reprint,
            late_minutes=int(late // 60) if late > self.settings.late_after else None,
            backup_for=job.backup_for,
        )

    # -- status ------------------------------------------------------------------------

    def _observe(self, status: PrinterStatus) -> None:
        self.state.status = status
        if status.ready:
            self.state.unusable_since = None
            if self.state.failed_over and self.remote is None:
                self.state.failed_over = False
                log.info("printer %s is usable again; its jobs print on it", self.config.name)
            self._set_state("ready", tuple(status.problems()), None)
        else:
            problems = tuple(status.problems())
            self._unusable("problem", problems, ", ".join(problems))

    def _unusable(self, state: str, problems: tuple[str, ...], detail: str) -> None:
        now = self.now()
        if self.state.unusable_since is None:
            self.state.unusable_since = now
        self._set_state(state, problems, detail)
        if (
            (self.backup is not None or self.remote is not None)
            and not self.state.failed_over
            and now - self.state.unusable_since >= self.config.failover_after
        ):
            self.state.failed_over = True
            backup = self.backup.config.name if self.backup is not None else self.config.backup
            log.warning(
                "printer %s unusable for %.0f s (%s): its jobs go to %s",
                self.config.name,
                now - self.state.unusable_since,
                detail,
                backup,
                extra={"printer": self.config.id, "backup": self.config.backup},
            )
            self.wake()

    def _set_state(self, state: str, problems: tuple[str, ...], detail: str | None) -> None:
        self.state.detail = detail
        if (state, problems) == (self.state.state, self.state.problems):
            return
        if state == "ready" and not problems:
            log.info("printer %s is ready", self.config.name, extra={"printer": self.config.id})
        else:
            log.warning(
                "printer %s: %s",
                self.config.name,
                detail or ", ".join(problems) or state,
                extra={"printer": self.config.id, "printer_state": state},
            )
        self.state.state = state
        self.state.problems = problems
        self.state.since = self.now()

    async def _hold_for_remote_backup(self, remote: RemoteBackup) -> None:
        """While failed over to a backup another node drives: ask it to stand in while the
        printer is unusable, ask for the tickets back once it is usable, and print again
        once they are back."""
        backup, printer = self.config.backup, self.config.id
        assert backup is not None
        state = remote.state(printer)
        try:
            if self.state.unusable_since is not None:
                if state is None or state[1] != "standing_in":
                    await remote.stand_in(printer, backup)
                return
            if state is not None and state[1] == "standing_in":
                await remote.give_back(printer, backup)
        except SyncError as exc:  # the store document refused: tried again at the next look
            log.warning("printer %s: the handover is not written: %s", self.config.name, exc)
            return
        back, taken = remote.taken_back(printer, self.config.failover_after)
        if back:
            self.state.failed_over = False
            self._taken = taken
            log.info("printer %s is usable again; its jobs print on it", self.config.name)

    async def _hand_to_backup(self) -> None:
        assert self.backup is not None
        moved = await self.jobs.move_queued(
            self.config.id, self.backup.config.id, backup_for=self.config.name
        )
        if moved:
            log.warning(
                "%d job(s) of printer %s moved to %s",
                moved,
                self.config.name,
                self.backup.config.name,
            )
            self.backup.wake()


def _reason(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


def _state_of(exc: DriverError) -> str:
    if isinstance(exc, DeviceUnreachable | ConnectionLost):
        return "offline"
    return "problem"


def _problems_of(exc: DriverError) -> tuple[str, ...]:
    """The failure in the short words the API and /metrics use."""
    if isinstance(exc, PrinterNotReady):
        return tuple(exc.status.problems())
    if isinstance(exc, DeviceUnreachable | ConnectionLost):
        return ("offline",)
    if isinstance(exc, DeviceTimeout):
        return ("not answering",)
    return ("answers nonsense",)
