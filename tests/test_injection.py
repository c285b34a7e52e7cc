"""No shell with user strings (issue 16): a payload in a project name or an output name never runs.

Subprocesses get argument lists (accel.core.process.run); generated sh and TCL scripts quote every
value they are given; project names must be C identifiers. Each test runs the payloads through a
command (or the generated script) and checks that no PWNED file appeared anywhere.
"""

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from accel.cli import main
from accel.core import boards, process
from accel.flow import vivado
from accel.hls import generate, vitis

PAYLOADS = ["x || true; touch PWNED; true y", "a'; touch PWNED; '", "$(touch PWNED)",
            "`touch PWNED`", '"; exec touch PWNED; "', "[exec touch PWNED]",
            "} ; exec touch PWNED ; {", "x\nexec touch PWNED\n#", "my net", "a;b", "\\"]
OUT_NAMES = ["o; touch PWNED", "o $(touch PWNED) `touch PWNED`", "o' \"; exec touch PWNED\""]
OUT_NAME = " ".join(OUT_NAMES)  # all of them in one folder name
TCLSH = shutil.which("tclsh")


@pytest.fixture
def here(tmp_path, monkeypatch):
    """tmp_path as the current folder; afterwards, no PWNED anywhere below it."""
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    assert not list(tmp_path.rglob("PWNED*"))


def one_line_error(capsys, code, *words):
    err = capsys.readouterr().err
    lines = [l for l in err.splitlines() if l.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("accel: error: "), err
    assert all(w in lines[0] for w in words), (words, lines[0])


@pytest.mark.parametrize("name", ["x || true; touch PWNED; true y", "my net", "a;b", "1abc"])
def test_hls_project_name_must_be_a_c_identifier(name, here, capsys):
    cfg = here / "cfg.yaml"
    cfg.write_text(f"project_name: {name!r}\n")
    code = main(["hls", "--config", str(cfg), "--out", "d", "--csim", "2"])
    one_line_error(capsys, code, str(cfg), "project_name", repr(name), "C identifier")
    assert not (here / "d").exists()


def _fake_cxx(path: Path, log: Path) -> Path:
    """A compiler that logs its arguments one per line and creates its -o output."""
    path.write_text('#!/bin/sh\ncase "$*" in *-fsyntax-only*) exit 1;; esac\n'
                    f'for a in "$@"; do printf "%s\\n" "$a"; done >> "{log}"\n'
                    'while [ $# -gt 0 ]; do [ "$1" = -o ] && : > "$2"; shift; done\nexit 0\n')
    path.chmod(0o755)
    return path


@pytest.mark.parametrize("project", [p for p in PAYLOADS if "\n" not in p])
def test_build_csim_sh_quotes_the_project_name(project, here):
    """Even a name the config would refuse reaches g++ as one argument, in a folder named like
    a payload too."""
    folder = here / OUT_NAMES[1]
    folder.mkdir()
    script = folder / "build_csim.sh"
    script.write_text(generate._render("build_csim.sh", {"PROJECT": project}))
    log = here / "args.log"
    env = dict(os.environ, CXX=str(_fake_cxx(here / "cxx", log)))
    done = process.run(["bash", str(script), str(here / "out")], env=env, capture_output=True,
                       text=True)
    assert done.returncode == 0, done.stderr
    args = log.read_text().splitlines()
    assert f"firmware/{project}.cpp" in args and f"{project}_bridge.cpp" in args
    assert f"-I{folder}/firmware" in args


# Vitis' commands as stubs that log each call, every word hex-encoded (a word may hold a newline)
TCL_STUBS = """
set log [open [lindex $argv 0] w]
proc record {cmd args} {
    set words [list $cmd]
    foreach a $args { lappend words [binary encode hex $a] }
    puts $::log [join $words " "]
}
foreach cmd {open_project set_top add_files open_solution set_part create_clock config_export
             csim_design csynth_design cosim_design export_design} {
    interp alias {} $cmd {} record $cmd
}
rename exit _exit
proc exit args { close $::log; _exit 0 }
source [lindex $argv 1]
"""


def _tcl_calls(log: Path) -> dict:
    """{command: the words of its first call} from the stubs' log."""
    calls = {}
    for line in log.read_text().splitlines():
        cmd, *words = line.split(" ")
        calls.setdefault(cmd, [bytes.fromhex(w).decode() for w in words])
    return calls


@pytest.mark.skipif(TCLSH is None, reason="tclsh not installed")
def test_build_tcl_quotes_every_value(here):
    """build.tcl sourced by tclsh with Vitis' commands stubbed: every value arrives whole."""
    values = {"PROJECT": PAYLOADS[4], "TOP": PAYLOADS[5], "PART": PAYLOADS[6],
              "CLOCK_NS": PAYLOADS[7]}
    folder = here / OUT_NAMES[2]
    folder.mkdir()
    (folder / "build.tcl").write_text(generate._render("build.tcl", values))
    (here / "stubs.tcl").write_text(TCL_STUBS)
    subprocess.run([TCLSH, str(here / "stubs.tcl"), str(here / "calls.log"),
                    str(folder / "build.tcl")], check=True, capture_output=True)
    calls = _tcl_calls(here / "calls.log")
    assert calls["set_part"] == [values["PART"]] and calls["set_top"] == [values["TOP"]]
    assert calls["create_clock"] == ["-period", values["CLOCK_NS"], "-name", "default"]
    assert calls["add_files"][0] == f"{folder}/firmware/{values['PROJECT']}.cpp"
    assert f"accel SqueezeNet ({values['PROJECT']})" in calls["config_export"]


@pytest.mark.skipif(TCLSH is None, reason="tclsh not installed")
def test_tcl_and_sh_words_round_trip(here):
    for value in PAYLOADS + OUT_NAMES + ["", "plain-1.0", "a\tb\r\n{}"]:
        tcl = f"fconfigure stdout -translation binary; puts -nonewline {process.tcl(value)}"
        got = subprocess.run([TCLSH], input=tcl.encode(), capture_output=True, check=True)
        assert got.stdout.decode() == value
        got = subprocess.run(["sh", "-c", f"printf %s {process.sh(value)}"],
                             capture_output=True, check=True)
        assert got.stdout.decode() == value


@pytest.mark.parametrize("cmd", ["c", "rtl", "hls"])
def test_payload_output_name_through_c_rtl_hls(cmd, here, capsys):
    argv = [cmd, "--out", OUT_NAME] + (["--tb-images", "1"] if cmd == "hls" else [])
    assert main(argv) == 0, capsys.readouterr().err
    assert (here / OUT_NAME).is_dir()
    if cmd == "hls":  # the printed next step names the folder as one shell word
        assert f"next: cd {shlex.quote(OUT_NAME)} && vitis_hls" in capsys.readouterr().out
        assert shlex.split(vitis.instructions(OUT_NAME))[:3] == ["cd", OUT_NAME, "&&"]


def test_payload_output_name_through_build(here, capsys):
    assert main(["build", "--board", "zybo", "--until", "golden", "--images", "2",
                 "--accuracy-images", "1", "--out", OUT_NAME]) == 0, capsys.readouterr().err
    root = here / OUT_NAME / "zybo"
    assert (root / "golden").is_dir()
    assert shlex.split(vivado.command(root / "vivado"))[:2] == ["cd", str(root / "vivado")]


@pytest.mark.skipif(TCLSH is None, reason="tclsh not installed")
def test_vivado_params_tcl_keeps_payload_paths_whole(here):
    """params.tcl (sourced by the board flow's build.tcl) with payload RTL file names."""
    files = [f"../rtl/{n}/a.v" for n in OUT_NAMES]
    vivado.write(here / "viv", boards.get("zybo"), "accel_zybo",
                 {"backend": "rtl", "rtl_files": files, "rtl_top": "accel_top"})
    got = subprocess.run([TCLSH], input=f"source {{{here / 'viv' / 'params.tcl'}}}\n"
                         "foreach f $ACCEL(rtl_files) { puts $f }", capture_output=True,
                         text=True, check=True).stdout
    assert got.splitlines() == files


def test_layer_names_cannot_end_a_c_comment(tmp_path):
    """Layer names come from the model file's node names and land in C comments: a `*/` in one
    must not end the comment (which would let a crafted model file inject C code)."""
    import copy

    from accel.cbackend import compile_demo, write
    from accel.core.modelfile import load_model

    from accel.cli import DEFAULT_MODEL

    qm = copy.deepcopy(load_model(DEFAULT_MODEL))
    qm.layers[0].name = "conv1*/ int pwned = 1; /*"
    out = write(qm, tmp_path / "c", build=False)
    src = (out / "accel_model.c").read_text()
    # verbatim only inside the accel_layer_names string literal; in comments it is defused
    assert src.count("*/ int pwned") == src.count('"conv1*/ int pwned') == 1
    assert "*_/ int pwned" in src
    compile_demo(out)  # still valid C
