"""Progress of an import: per file (bytes or rows) and per phase; a rich bar on a terminal, else nothing."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn, TimeRemainingColumn


class ImportProgress(Protocol):
    """What the importer reports while it works."""

    def file_started(self, label: str, total: int | None) -> None:
        """A file begins; ``total`` is its size in progress units (bytes or rows), if known."""

    def advanced(self, done: int) -> None:
        """The current file has reached ``done`` units."""

    def file_finished(self) -> None:
        """The current file is read."""

    def phase(self, text: str) -> None:
        """A step after reading (committing, resolving identities…)."""


class NullProgress:
    """Reports nothing (not a terminal, ``--quiet``, library use)."""

    def file_started(self, label: str, total: int | None) -> None:
        """Ignored."""

    def advanced(self, done: int) -> None:
        """Ignored."""

    def file_finished(self) -> None:
        """Ignored."""

    def phase(self, text: str) -> None:
        """Ignored."""


class RichProgress:
    """A rich progress bar per file on ``console`` (stderr), then one line per phase; use as a context manager."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                            TimeRemainingColumn(), console=console, transient=False)
        self._task: TaskID | None = None
        self._phase: TaskID | None = None

    def __enter__(self) -> RichProgress:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._phase is not None:
            self.bar.update(self._phase, total=1, completed=1)
        self.bar.stop()

    def file_started(self, label: str, total: int | None) -> None:
        """Add a bar for the file."""
        self._task = self.bar.add_task(label, total=total)

    def advanced(self, done: int) -> None:
        """Move the file's bar."""
        if self._task is not None:
            self.bar.update(self._task, completed=done)

    def file_finished(self) -> None:
        """Fill the file's bar."""
        if self._task is not None:
            task = self.bar.tasks[self._task]
            self.bar.update(self._task, total=task.total or task.completed or 1,
                            completed=task.total or task.completed or 1)
            self._task = None

    def phase(self, text: str) -> None:
        """Show the current phase (the previous one is marked done)."""
        if self._phase is not None:
            self.bar.update(self._phase, total=1, completed=1)
        self._phase = self.bar.add_task(text, total=None)


@contextmanager
def polled(read: Callable[[], float], report: Callable[[float], None], every: float = 0.25) -> Iterator[None]:
    """While the block runs, call ``report(read())`` every ``every`` seconds from a helper thread.

    For one long statement (a Parquet file read by DuckDB in one go): ``read`` is the store's query progress.
    """
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every):
            value = read()
            if value >= 0:
                report(value)

    thread = threading.Thread(target=loop, name="buyerjourney-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
