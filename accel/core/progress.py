"""Progress on stderr for the steps that can take more than a few seconds (yosys, the RTL
simulations, the C-sim compile, `accel build`'s stages, `accel compress`'s fine-tuning), with tqdm.

    with progress.task("yosys synth_xilinx", unit="step", poll=read_log) as t:
        run_the_tool()             # poll() -> {"n": .., "total": .., "status": ..} or None
    with progress.task("prune 1/4", total=200, unit="step") as t:
        for ...: t.advance()       # or t.set(n=.., total=.., status=..)
    with progress.quiet(): ...     # nothing shown inside (the CLI's --quiet)

A task with a total is a bar; without one, a spinner with the elapsed time; both carry a status
text. A background thread redraws it (a g++ or yosys run reports nothing by itself) and calls
`poll` there, so a caller reads a log or a progress file now and then and never acts per clock
cycle or per log line.

- Always on stderr (a log and a test see it too); a task that ends within DELAY s shows nothing.
- On a terminal the line is redrawn in place and cleared when the task ends; elsewhere it is a
  plain line every LOG_INTERVAL s plus one for the end, so logs stay small and readable.
- Nested tasks (a build stage running yosys) show the innermost, its description prefixed by the
  outer ones'.
- A task's line is ended before an exception leaves the task, so an error message that follows
  starts a line of its own.
- ACCEL_PROGRESS=0 turns it all off.
"""

import os
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from tqdm import tqdm

DELAY = 2.0  # s before a task shows anything
TTY_INTERVAL = 0.25  # s between redraws on a terminal
LOG_INTERVAL = 10.0  # s between lines elsewhere
_SPIN = "|/-\\"

_stack: list = []  # the open tasks, outermost first
_quiet = 0


def enabled() -> bool:
    return not _quiet and os.environ.get("ACCEL_PROGRESS", "1") != "0"


@contextmanager
def quiet(on: bool = True):
    """No progress inside the block (when on)."""
    global _quiet
    _quiet += bool(on)
    try:
        yield
    finally:
        _quiet -= bool(on)


class Tail:
    """The complete lines a growing file (a tool's log, a testbench's progress file) gained since
    the last call: what a poll function reads."""

    def __init__(self, path):
        self.path, self.pos, self.rest = Path(path), 0, ""

    def lines(self) -> list[str]:
        with open(self.path, "rb") as f:
            f.seek(self.pos)
            data = f.read()
        self.pos += len(data)
        *lines, self.rest = (self.rest + data.decode(errors="replace")).split("\n")
        return lines


class _Lines:
    """tqdm's output where stderr is no terminal: each redraw a line of its own (tqdm redraws with
    a carriage return, which a log keeps as one ever-growing line), a repeat of the last line and
    clearing write nothing."""

    def __init__(self, file):
        self.file, self.last = file, ""

    def write(self, s: str) -> None:
        line = s.replace("\r", "").rstrip()
        if line and line != self.last:
            self.file.write(line + "\n")
            self.last = line

    def flush(self) -> None:
        self.file.flush()


class _Bar(tqdm):
    monitor_interval = 0  # no tqdm monitor thread: Task redraws by itself


class Task:
    def __init__(self, desc: str, total=None, unit: str = "it", poll=None):
        self.desc = " > ".join([t.desc for t in _stack] + [desc])
        self.n, self.total, self.unit, self.status = 0, total, unit, ""
        self.poll = poll
        self.t0 = time.monotonic()
        self._bar = None
        self._frame = 0
        self._stop = threading.Event()
        self._thread = None
        _stack.append(self)
        if enabled():
            self._tty = bool(getattr(sys.stderr, "isatty", lambda: False)())
            self._file = sys.stderr if self._tty else _Lines(sys.stderr)
            self._thread = threading.Thread(target=self._tick, daemon=True,
                                            name=f"accel-progress {desc}")
            self._thread.start()

    def set(self, n=None, total=None, status=None) -> None:
        if n is not None:
            self.n = n
        if total is not None:
            self.total = total
        if status is not None:
            self.status = status

    def advance(self, k: int = 1) -> None:
        self.n += k

    # ------------------------------------------------------------------------------------------

    def _poll(self) -> None:
        if self.poll is not None:
            try:
                got = self.poll()
            except OSError:  # the file polled is not there yet
                got = None
            if got:
                self.set(**got)

    def _tick(self) -> None:
        interval = TTY_INTERVAL if self._tty else LOG_INTERVAL
        if self._stop.wait(DELAY):
            return
        while True:
            if _stack and _stack[-1] is self:  # only the innermost task draws
                self._poll()
                self._draw()
            if self._stop.wait(interval):
                return

    def _draw(self) -> None:
        self._sync()
        self._bar.refresh()
        self._bar.last_print_t = max(time.time(), self._bar.start_t + DELAY)  # close() ends it

    def _sync(self) -> None:
        """The tqdm bar (made at the first draw) set to the task's state."""
        if self._bar is None:
            for outer in _stack[:-1]:  # an outer task's line makes room on a terminal
                if outer._bar is not None and self._tty:
                    outer._bar.clear()
            # position 0: nested tasks share one line (no cursor movement in logs)
            self._bar = _Bar(total=self.total, desc=self.desc, file=self._file, position=0,
                            leave=not self._tty, ascii=not self._tty, dynamic_ncols=self._tty,
                            ncols=None if self._tty else 100, unit=self.unit, delay=DELAY)
            self._bar.start_t = time.time() - (time.monotonic() - self.t0)
        bar = self._bar
        spin = f" {_SPIN[self._frame % len(_SPIN)]}" if self._tty else ""
        self._frame += 1
        if self.total:
            bar.bar_format = ("{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} {unit} "
                              "[{elapsed}<{remaining}]{postfix}")
        else:
            bar.bar_format = "{desc}" + spin + " {elapsed}{postfix}"
        bar.total, bar.n = self.total, min(self.n, self.total) if self.total else self.n
        bar.set_postfix_str(self.status, refresh=False)

    def close(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            if self._bar is not None:
                if not self._tty:  # the last state, for the line close() leaves in a log
                    self._poll()
                    self._sync()
                self._bar.close()
        _stack.remove(self)


@contextmanager
def task(desc: str, total=None, unit: str = "it", poll=None):
    """A bar (total known) or a spinner with elapsed time, on stderr while the block runs."""
    t = Task(desc, total, unit, poll)
    try:
        yield t
    finally:
        t.close()
