"""Progress bars on stderr, one look for every long run (``qec ler``, ``qec decode``, training).

A bar counts what the run is made of (shots decoded, samples trained) with its rate and the time
left; it goes to stderr (stdout stays the results', as sinter's does) whether or not stderr is a
terminal. On a terminal it is redrawn in place several times a second. Elsewhere (a batch job's
log, ``nohup``, a pipe) it is a line every 10 s once the run has taken 10 s: a log gets readable
lines, not carriage returns, and a short run (or a mistake refused at once) prints none.

Example:
    >>> import io, contextlib
    >>> err = io.StringIO()
    >>> with contextlib.redirect_stderr(err):
    ...     with progress_bar(2000, "decoding") as bar:
    ...         bar.update(2000)
    >>> err.getvalue()  # not a terminal, and done at once: nothing to see
    ''
"""

from __future__ import annotations

import sys

# Where stderr is no terminal: the first line after this many seconds, then one a period.
LOG_PERIOD_S = 10.0


class _Lines:
    """A stream for tqdm that writes each redraw as a line of its own (no carriage returns, no
    blank redraws, no repeat of a count already shown): what a log file wants."""

    def __init__(self, stream):
        self.stream = stream
        self.last = ""

    def write(self, text: str) -> None:
        line = text.replace("\r", "").rstrip()
        count = line.split(" [")[0]  # the bar without its times
        if line and count != self.last:
            self.stream.write(line + "\n")
            self.last = count

    def flush(self) -> None:
        self.stream.flush()


def progress_bar(total: int | None, desc: str, *, unit: str = " shots", initial: int = 0,
                 disable: bool = False) -> "tqdm":
    """A bar of ``total`` ``unit`` (None: a count with its rate) labelled ``desc``, on stderr; large
    counts in k and M. Set ``leave = False`` before closing it when a one-line error follows: the
    error then takes the bar's place."""
    tty = sys.stderr.isatty()
    options = dict(dynamic_ncols=True) if tty else dict(file=_Lines(sys.stderr), delay=LOG_PERIOD_S, ncols=100,
                                                        mininterval=LOG_PERIOD_S, maxinterval=LOG_PERIOD_S)
    from tqdm import tqdm  # here, not at import: every `import qec` would load it

    return tqdm(total=total, desc=desc, unit=unit, unit_scale=True, initial=initial, disable=disable,
                **{"file": sys.stderr, **options})
