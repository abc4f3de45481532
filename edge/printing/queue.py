"""The print queue: durable jobs (jobs.py) and one worker per printer (worker.py).

`submit` returns once the job is committed, so "queued" always means "will print". The
queue owns the workers' tasks: `run` starts them and, cancelled, stops them all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from zoneinfo import ZoneInfo

from edge.config.devices import PrinterConfig
from edge.config.model import PrintSettings
from edge.printing.jobs import Job, JobStore
from edge.printing.logo import ReceiptLogo
from edge.printing.worker import Facts, PrinterState, PrinterWorker, RemoteBackup
from edge.runtime.errors import UnknownDevice, UnknownJob


class PrintQueue:
    """Every printer of this node and the jobs waiting for them."""

    def __init__(
        self,
        jobs: JobStore,
        printers: dict[str, PrinterConfig],
        *,
        settings: PrintSettings,
        zone: ZoneInfo,
        now: Callable[[], float],
        logo: ReceiptLogo | None = None,
        facts: Facts | None = None,
        store_printers: frozenset[str] = frozenset(),
        remote: RemoteBackup | None = None,
    ) -> None:
        """`facts` records and checks what the printers of `store_printers` print, and those
        whose backup is a printer another node drives, which `remote` hands their tickets
        to while they are unusable."""
        self.jobs = jobs
        self.settings = settings
        self.now = now
        elsewhere = {p for p, c in printers.items() if c.backup and c.backup not in printers}
        self.workers = {
            printer_id: PrinterWorker(
                config,
                jobs,
                settings=settings,
                zone=zone,
                now=now,
                logo=logo or ReceiptLogo(None),
                facts=facts if printer_id in store_printers | elsewhere else None,
                remote=remote if printer_id in elsewhere else None,
            )
            for printer_id, config in printers.items()
        }
        for printer_id, config in printers.items():
            if config.backup in self.workers:
                self.workers[printer_id].backup = self.workers[config.backup]

    async def run(self) -> None:
        """Run every printer's worker until cancelled."""
        async with asyncio.TaskGroup() as group:
            for printer_id, worker in self.workers.items():
                group.create_task(worker.run(), name=f"printer {printer_id}")

    def worker(self, printer_id: str, *, field: str = "/printer") -> PrinterWorker:
        try:
            return self.workers[printer_id]
        except KeyError:
            known = ", ".join(sorted(self.workers)) or "none"
            raise UnknownDevice(
                f"no printer {printer_id!r} on this node (printers: {known})", field=field
            ) from None

    async def submit(
        self,
        *,
        key: str,
        kind: str,
        printer: str,
        document: dict,
        event_at: float | None = None,
        order_id: str | None = None,
        requested_by: str | None = None,
        reprint: bool = False,
        skip_reason: str | None = None,
        backup_for: str | None = None,
    ) -> tuple[Job, bool]:
        """Queue a job durably (or find the job `key` already made); returns (job, created).

        With a `skip_reason` the job is recorded as skipped, to be seen but never printed
        (e.g. a ticket for a fire hours old); with `backup_for`, it prints marked as
        standing in for that printer (edge/devices/standins.py).
        """
        worker = self.worker(printer)
        reserved = skip_reason is None and worker.reserve()  # an idle printer takes it now
        try:
            job, created = await self.jobs.add(
                key=key,
                kind=kind,
                printer=printer,
                document=document,
                now=self.now(),
                event_at=event_at,
                order_id=order_id,
                requested_by=requested_by,
                reprint=reprint,
                state="skipped" if skip_reason else "sending" if reserved else "queued",
                last_error=skip_reason,
                backup_for=backup_for,
            )
        except BaseException:
            if reserved:
                worker.hand(None)
            raise
        if reserved:
            worker.hand(job if created else None)
        elif created and skip_reason is None:
            worker.wake()
        return job, created

    async def reprint(
        self, job_id: int, *, key: str, requested_by: str, printer: str | None = None
    ) -> tuple[Job, bool]:
        """A new job printing `job_id`'s document again, marked REPRINT."""
        original = await self.job(job_id)
        if printer is not None:
            self.worker(printer)
        return await self.submit(
            key=key,
            kind=original.kind,
            printer=printer or original.requested_printer,
            document=original.document,
            order_id=original.order_id,
            requested_by=requested_by,
            reprint=True,
        )

    async def job(self, job_id: int) -> Job:
        job = await self.jobs.get(job_id)
        if job is None:
            raise UnknownJob(f"no print job {job_id} on this node")
        return job

    def states(self) -> dict[str, PrinterState]:
        return {printer_id: worker.state for printer_id, worker in self.workers.items()}
