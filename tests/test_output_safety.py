"""Output safety (issue 16): no command deletes or overwrites what it did not write.

Every command that writes refuses, with exit 2 and one line, an existing --out that is not its own
previous output (accel.core.atomic's marker) unless --force is given; never swaps a file for a
folder or the reverse; never writes `.` (or home, the repository); leaves no temporary behind, even
when SIGINT/SIGTERM stops it mid-write, and no child process either. A killed run's temporaries
are swept by the next run.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from accel.cli import main
from accel.core import atomic, process
from accel.core.errors import AccelError
from accel.training.export import check_out

DEFAULT = Path(atomic.PKG) / "default" / "tiny-mnist-int8.onnx"

# every command that writes: the arguments before --out, and the folder that is its output below
# --out (build writes OUT/BOARD)
WRITERS = {
    "c": (["c"], ""),
    "hls": (["hls", "--tb-images", "1"], ""),
    "rtl": (["rtl"], ""),
    "compress": (["compress"], ""),
    "train": (["train", "--epochs", "1"], ""),
    "build": (["build", "--board", "zybo", "--until", "model"], "zybo"),
}


def one_line_error(capsys, code, *words):
    err = capsys.readouterr().err
    lines = [l for l in err.splitlines() if l.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("accel: error: "), err
    assert all(w in lines[0] for w in words), (words, lines[0])


def listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("cmd", WRITERS)
def test_a_folder_of_yours_is_left_alone_without_force(cmd, tmp_path, capsys):
    argv, sub = WRITERS[cmd]
    mine = tmp_path / "mine" / sub
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("keep me")
    before = listing(tmp_path)
    code = main([*argv, "--out", str(tmp_path / "mine")])
    one_line_error(capsys, code, str(mine), "--force", "another --out")
    assert listing(tmp_path) == before and (mine / "notes.txt").read_text() == "keep me"


def test_a_model_file_of_yours_is_left_alone_without_force(tmp_path, capsys):
    (tmp_path / "m.onnx").write_text("mine")
    code = main(["export", str(DEFAULT.with_suffix(".pt")), "--out", str(tmp_path / "m.onnx")])
    one_line_error(capsys, code, "m.onnx", "not written by `accel export`", "--force")
    (tmp_path / "m.onnx").unlink()
    (tmp_path / "m.pt").write_text("mine")  # the checkpoint beside it is protected the same way
    code = main(["export", str(DEFAULT.with_suffix(".pt")), "--out", str(tmp_path / "m.onnx")])
    one_line_error(capsys, code, "m.pt", "--force")
    assert listing(tmp_path) == ["m.pt"] and (tmp_path / "m.pt").read_text() == "mine"


def test_a_previous_export_is_ours_to_replace(tmp_path):
    model, pt = tmp_path / "m.onnx", tmp_path / "m.pt"
    shutil.copyfile(DEFAULT, model)  # what `accel export` wrote: an accel model file + its .pt
    shutil.copyfile(DEFAULT.with_suffix(".pt"), pt)
    assert check_out(model) == model
    pt.write_bytes(pt.read_bytes() + b"changed")  # no longer the checkpoint the model records
    with pytest.raises(AccelError, match="its checkpoint .*m.pt exists and was not written"):
        check_out(model)
    assert check_out(model, force=True) == model


@pytest.mark.parametrize("cmd", WRITERS)
def test_a_file_is_never_replaced_by_a_folder(cmd, tmp_path, capsys):
    argv, sub = WRITERS[cmd]
    target = tmp_path / "out" / sub if sub else tmp_path / "out"
    target.parent.mkdir(exist_ok=True)
    target.write_text("a file")
    code = main([*argv, "--out", str(tmp_path / "out"), "--force"])
    one_line_error(capsys, code, str(target), "is a file")
    assert target.read_text() == "a file"


def test_a_folder_is_never_replaced_by_a_model_file(tmp_path, capsys):
    (tmp_path / "x.onnx").mkdir()
    code = main(["export", str(DEFAULT.with_suffix(".pt")), "--out", str(tmp_path / "x.onnx"),
                 "--force"])
    one_line_error(capsys, code, "x.onnx", "is a folder")
    assert listing(tmp_path) == ["x.onnx"]  # no stray x.pt


@pytest.mark.parametrize("cmd", WRITERS)
def test_the_current_folder_is_never_an_output(cmd, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("keep me")
    code = main([*WRITERS[cmd][0], "--out", ".", "--force"])
    one_line_error(capsys, code, "--out .", "current folder")
    assert listing(tmp_path) == ["notes.txt"]


@pytest.mark.parametrize("cmd, argv", [("c", ["c"]), ("rtl", ["rtl"]),
                                       ("hls", ["hls", "--tb-images", "1"])])
def test_a_previous_output_of_the_same_command_is_replaced(cmd, argv, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    atomic.mark(out, cmd)
    (out / "stale.txt").write_text("from the last run")
    assert main([*argv, "--out", str(out)]) == 0
    assert atomic.owner(out) == cmd and not (out / "stale.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporaries beside it
    capsys.readouterr()


def test_build_writes_into_its_own_folder_only(tmp_path, capsys):
    assert main(["build", "--board", "zybo", "--until", "model", "--out", str(tmp_path)]) == 0
    root = tmp_path / "zybo"
    assert atomic.owner(root) == "build" and (root / "model").is_dir()
    (root / "mine.txt").write_text("x")  # ours: a rerun goes on, leaving other files be
    assert main(["build", "--board", "zybo", "--until", "model", "--out", str(tmp_path)]) == 0
    assert (root / "mine.txt").read_text() == "x"
    assert not [p for p in root.iterdir() if "-tmp-" in p.name or "-old-" in p.name]
    capsys.readouterr()


# --- interrupted writes ---------------------------------------------------------------------------

def _fake_tool(path: Path, pids: Path) -> Path:
    """A compiler stand-in that records its pid and hangs (until killed)."""
    path.write_text(f'#!/bin/sh\ncase "$*" in *--version*) echo fake 1; exit 0;; '
                    f'*-fsyntax-only*) exit 1;; esac\necho $$ >> "{pids}"\nexec sleep 120\n')
    path.chmod(0o755)
    return path


def _accel(argv, env, cwd):
    return subprocess.Popen([sys.executable, "-m", "accel.cli", *argv], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(cond, what: str, timeout: float = 120):
    t0 = time.time()
    while not cond():
        assert time.time() - t0 < timeout, f"timed out waiting for {what}"
        time.sleep(0.1)


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"  # a zombie is dead, only not reaped yet


def _pids(path: Path) -> list[int]:
    return [int(p) for p in path.read_text().split()] if path.is_file() else []


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_during_a_write_leaves_the_old_output_and_nothing_else(sig, code, tmp_path):
    """`accel c` stopped while its compiler runs: the previous output is as it was, no temporary
    is left, and the compiler (its own process group) is gone."""
    bin_dir, pids = tmp_path / "bin", tmp_path / "pids"
    bin_dir.mkdir()
    _fake_tool(bin_dir / "cc", pids)
    out = tmp_path / "out"
    out.mkdir()
    atomic.mark(out, "c")
    (out / "old.c").write_text("previous output")
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    proc = _accel(["c", "--out", str(out)], env, tmp_path)
    _wait_for(lambda: _pids(pids), "the compiler")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out-tmp-")]
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code and err.strip() in ("accel: terminated", "accel: interrupted")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin", "out", "pids"]
    assert sorted(p.name for p in out.iterdir()) == [atomic.MARKER, "old.c"]
    _wait_for(lambda: all(_gone(p) for p in _pids(pids)), "the compiler to die", 10)


def test_a_killed_csim_compile_takes_its_compilers_along_and_is_swept_next_time(tmp_path,
                                                                                 monkeypatch):
    """SIGKILL of accel during the C-sim compile: build_csim.sh and the compilers die with it
    (parent-death signal, then the script kills its group); the cache temporary it could not
    remove is swept by the next C-sim build."""
    pids, cache = tmp_path / "pids", tmp_path / "cache"
    env = dict(os.environ, CXX=str(_fake_tool(tmp_path / "cxx", pids)), ACCEL_CACHE=str(cache))
    proc = _accel(["hls", "--out", "p", "--tb-images", "1", "--csim"], env, tmp_path)
    _wait_for(lambda: len(_pids(pids)) >= 2, "the compilers")  # the network's and the bridge's
    proc.kill()
    proc.communicate(timeout=60)
    _wait_for(lambda: all(_gone(p) for p in _pids(pids)), "the compilers to die", 10)
    stale = [p.name for p in (cache / "hls").iterdir()]
    assert len(stale) == 1 and f"-tmp-{proc.pid}-" in stale[0]
    # the next run (its compiler fails at once) sweeps the dead run's temporary first
    (tmp_path / "cxx").write_text('#!/bin/sh\ncase "$*" in *--version*) echo fake 1;; '
                                  '*) exit 1;; esac\n')
    from accel.hls import csim

    monkeypatch.setenv("ACCEL_CACHE", str(cache))
    monkeypatch.setenv("CXX", str(tmp_path / "cxx"))
    with pytest.raises(AccelError, match="C-sim compile .* failed"):
        csim.build(tmp_path / "p")
    assert list((cache / "hls").iterdir()) == []


def test_process_run_kills_the_whole_group(tmp_path):
    """A script's background job outlives the script; run() kills it with the group."""
    pid_file = tmp_path / "bg"
    done = process.run(["sh", "-c", f'sleep 120 & echo $! > "{pid_file}"; exit 3'])
    assert done.returncode == 3
    _wait_for(lambda: _gone(int(pid_file.read_text())), "the background job to die", 10)


def test_process_run_takes_no_shell_line():
    with pytest.raises(TypeError):
        process.run("echo hi")
