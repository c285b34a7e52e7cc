"""Interrupted and resumed `accel build` (issue 16): the same bytes as an uninterrupted build, no
temporary left anywhere, no child process outliving the run that started it.

One build of a small net (--until hls: model, golden, the hls4ml project and its g++ C-sim) is
stopped three times, each at a point detected from the files it writes and the processes it runs
(never by a sleep): SIGINT in the golden stage, SIGKILL while the hls stage works in its temporary
folder, SIGKILL while g++ compiles the C-sim. Then an uninterrupted build of the same model runs
into another folder with ANOTHER $ACCEL_CACHE, and a fourth run completes the interrupted one.
A shared cache would hand the reference the C-sim library the resumed runs compiled, and anything
else the killed runs left there, so a bad entry would be in both builds and go unseen; separate
caches prove that the resumed folder equals one made from nothing. (A cache hit and a miss give
the same bytes because the stage records the library's content key, not whether it was compiled
or how long that took.)

The two builds share only a ccache of this test's own (when ccache is installed): object files
keyed by the preprocessed source and the flags, what compiling that source gives; the third
run's compile, before any other, finds it empty (g++ really runs and is killed), and the fourth
run's compile, after the reference's, takes the reference's objects: one compile of the C-sim."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from accel.core import atomic, process
from accel.flow import stamps

ARGS = ["build", "--board", "zybo", "--until", "hls", "--images", "2", "--accuracy-images", "0"]


# ---------------------------------------------------------------------------------------------
# processes, from /proc

def _table() -> dict:
    """pid -> (ppid, start time, name) of every process."""
    out = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1:text.rindex(")")]
        fields = text[text.rindex(")") + 2:].split()
        if fields[0] != "Z":  # a zombie is dead, only not reaped yet
            out[int(stat.parent.name)] = (int(fields[1]), fields[19], name)
    return out


def _descendants(pid: int) -> dict:
    """{(pid, start time): name} of pid's descendants (the start time tells a reused pid)."""
    table = _table()
    found, todo = {}, [pid]
    while todo:
        parent = todo.pop()
        for p, (ppid, start, name) in table.items():
            if ppid == parent:
                found[(p, start)] = name
                todo.append(p)
    return found


def _alive(procs: dict) -> dict:
    table = _table()
    return {k: n for k, n in procs.items() if k[0] in table and table[k[0]][1] == k[1]}


def _wait_for(cond, what: str, proc=None, timeout: float = 600.0):
    """Poll cond until it holds (the timeout only guards against a hang, on a loaded machine)."""
    t0 = time.monotonic()
    while True:
        got = cond()
        if got:
            return got
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the build ended (exit {proc.returncode}) before {what}:\n{_tail(proc)}")
        if time.monotonic() - t0 > timeout:
            pytest.fail(f"timed out waiting for {what}" + (f":\n{_tail(proc)}" if proc else ""))
        time.sleep(0.05)


# ---------------------------------------------------------------------------------------------

def _ccache(tmp_path: Path) -> dict:
    """C-sim compiles through ccache with its cache in tmp_path/ccache (csim: CXX may hold a
    launcher); the projects' -I paths (under tmp_path) rewritten relative to the project."""
    if "CXX" in os.environ or not shutil.which("ccache"):
        return {}
    return {"CXX": "ccache g++", "CCACHE_DIR": str(tmp_path / "ccache"),
            "CCACHE_BASEDIR": str(tmp_path.resolve()), "CCACHE_NOHASHDIR": "1"}


def _start(model: Path, out: Path, cache: Path, log: Path, env: dict) -> subprocess.Popen:
    env = dict(os.environ, **env, ACCEL_CACHE=str(cache), PYTHONUNBUFFERED="1")
    with open(log, "ab") as f:  # the child has its own copy; no pipe to fill up
        proc = subprocess.Popen([sys.executable, "-m", "accel.cli", *ARGS, "--model", str(model),
                                 "--out", str(out)], stdout=f, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
    proc.log = log
    return proc


def _tail(proc) -> str:
    return "\n".join(proc.log.read_text(errors="replace").splitlines()[-15:])


def _compiling(pid: int) -> dict:
    """pid's descendants when one of them is cc1plus compiling a source file (not build_csim.sh's
    quick probe of the C++ standard, which reads stdin), else {}."""
    found = _descendants(pid)
    for (p, _), name in found.items():
        try:
            if name == "cc1plus" and b".cpp" in Path(f"/proc/{p}/cmdline").read_bytes():
                return found
        except OSError:
            continue
    return {}


def _stop(proc: subprocess.Popen, sig: int, children: dict | None = None) -> tuple[int, dict]:
    """Signal the build alone (not its group: children must go by our own mechanisms), wait for
    it; returns its exit code and its descendants (as seen just before)."""
    children = _descendants(proc.pid) if children is None else children
    proc.send_signal(sig)
    return proc.wait(timeout=600), children


def _tagged(cache: Path) -> list[str]:
    """Live processes whose environment holds ACCEL_CACHE=cache: a build of that cache and all it
    started, however deep and whenever (they inherit it), wherever they were reparented."""
    tag = f"ACCEL_CACHE={cache}".encode()
    found = []
    for env in Path("/proc").glob("[0-9]*/environ"):
        try:
            if tag in env.read_bytes().split(b"\0"):  # a zombie's reads empty
                found.append((env.parent / "comm").read_text().strip())
        except OSError:
            continue
    return found


def _assert_no_orphans(children: dict, cache: Path, when: str) -> None:
    """Neither the descendants the build had when signalled nor anything else it started lives
    on (the watchdog, build_csim.sh, g++, cc1plus, ...)."""
    t0 = time.monotonic()
    while _alive(children) or _tagged(cache):
        if time.monotonic() - t0 > 60:
            pytest.fail(f"{when}: still running: {sorted(_alive(children).values())}, "
                        f"{sorted(_tagged(cache))}")
        time.sleep(0.05)


def _temps(root: Path) -> list[str]:
    """Hidden entries under root other than the output marker and the stage stamps: what a
    killed run leaves (.<name>-tmp-<pid>-*, .<name>-old-*, partial .json files)."""
    return sorted(str(p.relative_to(root)) for p in root.rglob(".*")
                  if p.name not in (atomic.MARKER, stamps.STAMP))


def _tree(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def _glob1(folder: Path, pattern: str) -> Path | None:
    return next(iter(folder.glob(pattern)), None) if folder.is_dir() else None


def test_interrupted_build_resumes_to_the_same_bytes(exported, tmp_path):
    _, model = exported(hw=28)  # MNIST's own size: the golden stage resizes no dataset
    resumed, reference = tmp_path / "resumed", tmp_path / "reference"
    cache, ref_cache = tmp_path / "cache", tmp_path / "ref-cache"
    logs = tmp_path / "logs"
    logs.mkdir()
    env = _ccache(tmp_path)
    started = []
    root = resumed / "zybo"
    try:
        # 1. SIGINT in the golden stage: the CLI's clean exit path (exit 130, temporary removed)
        run = _start(model, resumed, cache, logs / "run1.log", env)
        started.append(run)
        _wait_for(lambda: _glob1(root, ".golden-tmp-*"), "the golden stage", run)
        code, children = _stop(run, signal.SIGINT)
        assert code == 130, _tail(run)
        _assert_no_orphans(children, cache, "after SIGINT in golden")
        assert _temps(resumed) == [] and not _glob1(root, "golden")

        # 2. SIGKILL in the hls stage, in its temporary folder (hls4ml writing the project)
        run = _start(model, resumed, cache, logs / "run2.log", env)
        started.append(run)
        _wait_for(lambda: _glob1(root, ".hls-tmp-*"), "the hls stage", run)
        code, children = _stop(run, signal.SIGKILL)
        assert code == -signal.SIGKILL
        _assert_no_orphans(children, cache, "after SIGKILL in hls")
        killed = run.pid
        assert any(re.fullmatch(rf"zybo/\.hls-tmp-{killed}-\w+", t) for t in _temps(resumed))

        # 3. SIGKILL while g++ compiles the C-sim: the compilers (build_csim.sh's group) go too,
        # and the cache temporary that no handler could remove stays until the next run
        run = _start(model, resumed, cache, logs / "run3.log", env)
        started.append(run)
        compiling = _wait_for(lambda: _compiling(run.pid), "the C-sim compile", run)
        code, children = _stop(run, signal.SIGKILL, compiling)
        assert code == -signal.SIGKILL
        assert {"bash", "cc1plus"} <= set(children.values())  # build_csim.sh, g++'s compiler
        assert not [t for t in _temps(resumed) if f"-tmp-{killed}-" in t]  # swept by this run
        _assert_no_orphans(children, cache, "after SIGKILL during the C-sim compile")
        assert [t for t in _temps(cache) if re.fullmatch(rf"hls/\.\w+-tmp-{run.pid}-\w+", t)]

        # the reference: the same build, uninterrupted, from nothing (its own $ACCEL_CACHE)
        ref = _start(model, reference, ref_cache, logs / "reference.log", env)
        started.append(ref)
        assert ref.wait(timeout=900) == 0, _tail(ref)

        # 4. to the end: the finished stages are taken as they are, the rest made again
        run = _start(model, resumed, cache, logs / "run4.log", env)
        started.append(run)
        assert run.wait(timeout=900) == 0, _tail(run)
        log = run.log.read_text()
        for line in ("] model    cached", "] golden   cached", "] hls      done"):
            assert line in log, log
    finally:
        for p in started:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()

    # the same files, byte for byte (stamps, csim.json, the hls4ml project, report, build.json)
    got, want = _tree(resumed), _tree(reference)
    assert sorted(got) == sorted(want)
    assert [f for f in want if got[f] != want[f]] == []
    for f in ("build.json", "report.md", "golden/layers.npz", "hls/.accel-stage.json",
              "hls/csim.json", "hls/project/hls4ml_config.yml", "hls/project/build_lib.sh"):
        assert f"zybo/{f}" in got, f
    # nothing left over: beside the outputs, in them, in either cache
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["resumed", "reference", "cache", "ref-cache", "logs"] + (["ccache"] if env else []))
    for where in (resumed, reference, cache, ref_cache):
        assert _temps(where) == [], where


def test_killed_parent_takes_its_childrens_groups_along(tmp_path):
    """SIGKILL of a process inside process.run(): the script it ran AND the script's own child
    (which no parent-death signal reaches) are killed by the watchdog."""
    pids = tmp_path / "pids"
    code = ("import sys; from accel.core import process; "
            f"process.run(['sh', '-c', 'sleep 300 & echo $$ $! > {pids}; wait'])")
    tag = tmp_path / "tag"  # an ACCEL_CACHE that marks the processes of this test
    parent = subprocess.Popen([sys.executable, "-c", code], start_new_session=True,
                              env=dict(os.environ, ACCEL_CACHE=str(tag)))
    try:
        _wait_for(lambda: pids.is_file() and len(pids.read_text().split()) == 2, "the script")
        children = _descendants(parent.pid)
        names = sorted(children.values())
        assert "sh" in names and "sleep" in names, names
        parent.kill()
        parent.wait()
        _assert_no_orphans(children, tag, "after SIGKILL of the parent")
    finally:
        if parent.poll() is None:
            os.killpg(parent.pid, signal.SIGKILL)
            parent.wait()


def test_cocotb_runner_commands_go_through_process_run(tmp_path):
    """adopt(): a cocotb runner's commands run in their own process group (what run() kills)."""
    class Runner:  # the part of cocotb_tools.runner.Runner that adopt() replaces
        env = dict(os.environ)

        def _execute_cmds(self, cmds, cwd, stdout=None):
            raise AssertionError("the runner's own subprocess.run was used")

    runner = process.adopt(Runner())
    log = tmp_path / "log"
    with open(log, "w") as f:
        code = "import os; print(os.getpid(), os.getpgid(0))"
        runner._execute_cmds([[sys.executable, "-c", code]], tmp_path, f)
    pid, pgid = log.read_text().split()
    assert pid == pgid and int(pgid) != os.getpgid(0)  # a group of its own
    with pytest.raises(RuntimeError, match="return code: 3"):
        runner._execute_cmds([["sh", "-c", "exit 3"]], tmp_path)
    with pytest.raises(TypeError):
        process.adopt(object())
