"""What a user sees while a long step runs: a progress bar with rate and ETA on stderr.

:func:`jaxseis.locate` runs its long steps (the global stage's candidate batches, NUTS'
warm-up and sampling, nested sampling) as compiled programs called from a Python loop in
pieces, and reports between the pieces; no callback runs inside a compiled program, so the
programs are the same with and without a display (identical results, one compilation, and
JAX's persistent compilation cache keeps them: it refuses programs with host callbacks).

A :class:`Progress` is a `tqdm <https://tqdm.github.io>`_ bar on stderr that also advances its
elapsed time while nothing is reported (the first piece includes compiling it). Whether it is
shown follows one rule everywhere (:func:`show_progress`): when asked (``progress=True``),
never when asked not to (``False``), and by default (``None``) when stderr is a terminal,
so logs, pipes and test runs stay clean.
"""

from __future__ import annotations

import shutil
import sys
import threading

__all__ = ["Progress", "show_progress"]

_TICK_S = 0.5  # how often a bar redraws (elapsed time) while nothing is reported


def show_progress(progress: bool | None) -> bool:
    """Whether to show progress: ``progress`` itself, or for ``None`` whether stderr is a
    terminal."""
    if progress is None:
        try:
            return sys.stderr.isatty()
        except (AttributeError, ValueError):  # replaced or closed stderr
            return False
    return bool(progress)


class Progress:
    """A progress bar on stderr (a context manager); does nothing when not shown.

    Args:
        total: units of work (``None``: unknown; then the line shows the elapsed time only).
        desc: the label, e.g. ``"NUTS warm-up"``.
        unit: the unit of the rate, e.g. ``"step"`` (rate in units per second).
        progress: shown when ``True``; for ``None`` when stderr is a terminal.
        initial: units already done (e.g. by an earlier, resumed run).
        leave: keep the finished bar on the terminal (default: remove it).
    """

    def __init__(self, total: int | None, *, desc: str, unit: str = "it",
                 progress: bool | None = None, initial: int = 0,
                 leave: bool = False):  # fmt: skip
        self.shown = show_progress(progress)
        self._bar = None
        self._stop = threading.Event()
        self._ticker = None
        self._started = False
        if not self.shown:
            return
        from tqdm import tqdm

        size = shutil.get_terminal_size()  # 80 x 24 where a terminal reports no size
        self._bar = tqdm(
            total=total, desc=desc, unit=unit, file=sys.stderr, leave=leave, initial=initial,
            ncols=size.columns, nrows=size.lines, smoothing=0.1, mininterval=0.2,
            bar_format="{desc}: {elapsed} elapsed{postfix}" if total is None else None,
        )  # fmt: skip
        self._ticker = threading.Thread(target=self._tick, name="jaxseis-progress", daemon=True)
        self._ticker.start()

    def _tick(self) -> None:
        while not self._stop.wait(_TICK_S):
            bar = self._bar
            if bar is not None:
                bar.refresh()

    def update(self, n: int = 1) -> None:
        """``n`` more units done.

        The first update ends the start-up (compiling the program, the first piece): the rate
        and ETA are measured from there, and the elapsed time restarts.
        """
        bar = self._bar
        if bar is None:
            return
        if self._started:
            bar.update(n)
            return
        self._started = True
        done = bar.n + n
        bar.reset(total=bar.total)  # restarts the clock and the rate's moving average
        bar.n = bar.last_print_n = bar.initial = done
        bar.refresh()

    def describe(self, desc: str | None = None, postfix: str | None = None) -> None:
        """Change the label and/or the note after the bar (e.g. ``"3 divergent"``)."""
        if self._bar is None:
            return
        if desc is not None:
            self._bar.set_description_str(desc, refresh=False)
        if postfix is not None:
            self._bar.set_postfix_str(postfix, refresh=False)
        self._bar.refresh()

    def close(self) -> None:
        """Stop and remove the bar (idempotent)."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
            self._ticker = None
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
