"""Child processes and the scripts they run: no shell with user strings, and no child outliving us.

- run(): an argument list (never a shell line) in its own process group; the whole group (a
  script and the compilers it started) is killed on every way out: normal end, error, timeout,
  Ctrl-C, SIGTERM. The child also gets SIGTERM when this process dies, even by SIGKILL (Linux).
- interrupts(): in the CLI, SIGTERM raises Terminated (a KeyboardInterrupt) so `finally` blocks
  remove temporaries, and on SIGINT/SIGTERM the children that libraries started in our own process
  group (cocotb's make and simulator) are killed before the exception unwinds.
- sh() / tcl(): a value quoted as one word of a generated sh or TCL script.
"""

import ctypes
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

_PR_SET_PDEATHSIG = 1
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the process was so that cleanup runs as on Ctrl-C."""

    signum = signal.SIGTERM


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run(cmd, *, input=None, timeout=None, capture_output=False, text=False, check=False,
        **popen) -> subprocess.CompletedProcess:
    """subprocess.run for an argument list, in a new session (process group) killed whole when
    the call ends, however it ends. Raises TimeoutExpired and (check=True) CalledProcessError
    like subprocess.run."""
    if isinstance(cmd, (str, bytes)) or popen.get("shell"):
        raise TypeError("process.run takes an argument list, never a shell line")
    if capture_output:
        popen.update(stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if input is not None:
        popen["stdin"] = subprocess.PIPE
    p = subprocess.Popen(cmd, start_new_session=True, preexec_fn=_die_with_parent, text=text,
                         **popen)
    try:
        out, err = p.communicate(input, timeout=timeout)
    finally:
        # The whole group: interrupted, the child is still running; ended, a failing script may
        # have left background jobs (its id was reaped just now: no other group can have it yet).
        _kill_group(p.pid)
        p.wait()
    done = subprocess.CompletedProcess(p.args, p.returncode, out, err)
    if check:
        done.check_returncode()
    return done


def _descendants() -> list[int]:
    """Our descendant processes, from /proc (empty where there is none)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        ppid = int(text[text.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = [], [os.getpid()]
    while todo:
        for c in children.get(todo.pop(), []):
            found.append(c)
            todo.append(c)
    return found


def _interrupted(signum, frame):
    # Ignore a second signal while the cleanup this one starts runs.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for pid in _descendants():  # children in our group; run()'s own groups die in its finally
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


@contextmanager
def interrupts():
    """SIGINT and SIGTERM kill our children and raise (KeyboardInterrupt / Terminated) inside the
    block; the previous handlers come back after it. Main thread only (elsewhere: no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {s: signal.signal(s, _interrupted) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)


def sh(value) -> str:
    """value as one word of an sh script."""
    return shlex.quote(str(value))


def tcl(value) -> str:
    """value as one TCL word: as is when plain, in braces when that quotes it, else every special
    character backslash-escaped (a brace, a backslash or a newline would end the braces)."""
    s = str(value)
    if re.fullmatch(r"[\w.:/+-]+", s):
        return s
    if not re.search(r"[{}\\\n\r]", s):
        return "{" + s + "}"
    escapes = {"\n": "\\n", "\r": "\\r"}
    return "".join(escapes.get(c) or (c if re.fullmatch(r"[\w.:/+-]", c) else "\\" + c)
                   for c in s)
