"""Child processes and the scripts they run: no shell with user strings, and no child outliving us.

- run(): an argument list (never a shell line) in its own process group; the whole group (a
  script and the compilers it started) is killed on every way out: normal end, error, timeout,
  Ctrl-C, SIGTERM, and SIGKILL of this process, which no handler sees: a watchdog (one small
  process per accel process) holds the groups of the running children and kills them when its
  pipe from us closes, which the kernel does however we die. The direct child also gets SIGTERM
  then (parent-death signal, Linux), which covers the instant before its group is registered.
- adopt(): a cocotb runner's commands (make, the simulator) go through run() too.
- interrupts(): in the CLI, SIGTERM raises Terminated (a KeyboardInterrupt) so `finally` blocks
  remove temporaries, and on SIGINT/SIGTERM any child a library started without run() is killed
  before the exception unwinds.
- sh() / tcl(): a value quoted as one word of a generated sh or TCL script.
"""

import atexit
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


def _die_with(parent: int):
    def preexec() -> None:  # runs in the child between fork and exec
        if _prctl is not None:
            _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
            if os.getppid() != parent:  # the parent died before the signal was asked for
                os._exit(1)
    return preexec


# The watchdog: reads "+<pgid>" / "-<pgid>" lines; at end of input (we exited or were killed)
# it kills the groups still listed. It ignores SIGINT/SIGTERM so that it outlives us to do so.
_WATCHDOG = """
import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
groups = set()
for line in sys.stdin:
    (groups.add if line[0] == "+" else groups.discard)(int(line[1:]))
for g in groups:
    try:
        os.killpg(g, signal.SIGKILL)
    except OSError:
        pass
"""
_dog: dict = {}  # "pid": the process it watches over (a forked child needs its own), "proc"
_dog_lock = threading.Lock()


def _watch(line: str) -> None:
    """Tell the watchdog (started on first use) a group to kill if we die ("+") or to forget."""
    with _dog_lock:
        for _ in range(2):  # a second try with a new watchdog when the old one was killed
            if _dog.get("pid") != os.getpid() or _dog["proc"].poll() is not None:
                _dog.update(pid=os.getpid(), proc=subprocess.Popen(
                    [sys.executable, "-I", "-S", "-c", _WATCHDOG], stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    start_new_session=True))  # never sent the terminal's Ctrl-C
            try:
                os.write(_dog["proc"].stdin.fileno(), f"{line}\n".encode())
                return
            except OSError:
                _dog["pid"] = None


@atexit.register
def _stop_watchdog() -> None:
    """A normal exit: end the watchdog's input and reap it (it has no group left to kill)."""
    if _dog.get("pid") == os.getpid():
        _dog["proc"].stdin.close()
        try:
            _dog["proc"].wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


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
    p = subprocess.Popen(cmd, start_new_session=True, preexec_fn=_die_with(os.getpid()),
                         text=text, **popen)
    try:
        _watch(f"+{p.pid}")
        out, err = p.communicate(input, timeout=timeout)
    finally:
        # The whole group: interrupted, the child is still running; ended, a failing script may
        # have left background jobs (its id was reaped just now: no other group can have it yet).
        _kill_group(p.pid)
        _watch(f"-{p.pid}")
        p.wait()
    done = subprocess.CompletedProcess(p.args, p.returncode, out, err)
    if check:
        done.check_returncode()
    return done


def adopt(runner):
    """A cocotb runner (cocotb_tools.runner, pinned in pyproject.toml) whose commands run through
    run(): each in its own process group, killed with us. Returns the runner."""
    def execute(cmds, cwd, stdout=None) -> None:  # Runner._execute_cmds, minus its log lines
        for cmd in cmds:
            done = run(list(cmd), cwd=cwd, env=runner.env, stdout=stdout,
                       stderr=None if stdout is None else subprocess.STDOUT)
            if done.returncode != 0:
                raise RuntimeError(f"Command failed with return code: {done.returncode}")

    if not callable(getattr(runner, "_execute_cmds", None)):
        raise TypeError(f"{type(runner).__name__} has no _execute_cmds: not the pinned cocotb")
    runner._execute_cmds = execute
    return runner


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
