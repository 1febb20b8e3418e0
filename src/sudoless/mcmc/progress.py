"""A progress bar on stderr (rich), or nothing: samplers and the solver call ``advance`` either way."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def progress_bar(total: float, label: str, enabled: bool = True) -> Iterator[Callable[[float], None]]:
    """Yield ``advance(amount)``; with ``enabled`` a rich bar on stderr shows it, otherwise it does nothing.

    rich is imported only when a bar is wanted, so library use without one costs nothing."""
    if not enabled:
        yield lambda amount: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda amount: bar.advance(task, amount)
