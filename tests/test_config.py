"""The schema layer (accel.core.config): every bad fold.yaml, hls.yaml, board YAML and command-line
number of issue 16 is exit 2 with one line naming the file, the key, the value and what is
allowed, no traceback, nothing written; the good ones still load."""

import math

import pytest

from accel.cli import main
from accel.core import boards, config
from accel.core.errors import AccelError
from accel.hls import generate

CAPACITY = "capacity: {LUT: 17600, FF: 35200, BRAM36: 60, DSP48E1: 80}\n"
BOARD = "part: xc7z010clg400-1\nclock_mhz: 100\n" + CAPACITY


def one_line(capsys, argv, *words):
    code = main(argv)
    err = capsys.readouterr().err
    lines = [l for l in err.splitlines() if l.strip()]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("accel: error: "), err
    assert "Traceback" not in err
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


def write(tmp_path, name, text):
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


# --- fold.yaml (accel rtl --fold) -------------------------------------------------------------

FOLD_BAD = [
    ("layers: {conv1: {pe: [4, 2]}}", ["layers.conv1.pe", "[4, 2]", "an integer from 1 to 4096"]),
    ("layers: {conv1: {pe: null}}", ["layers.conv1.pe", "not null", "an integer"]),
    ("layers: {conv1: {pe: '4'}}", ["layers.conv1.pe", "'4'"]),
    ("layers: {conv1: {pe: true}}", ["layers.conv1.pe", "not true"]),
    ("layers: {conv1: {simd: 2.5}}", ["layers.conv1.simd", "2.5"]),
    ("layers: {conv1: {simd: 0}}", ["layers.conv1.simd", "0"]),
    ("layers: {conv1: {pe: 4, depth: 2}}", ["unknown key 'layers.conv1.depth'", "pe, simd"]),
    ("layers: {conv1: 4}", ["layers.conv1", "a mapping"]),
    ("layers: [conv1]", ["layers", "a mapping of conv layer names"]),
    ("layers: {nope: {pe: 1}}", ["no convolution or max-pool named 'nope'"]),
    ("target_fps: .nan", ["target_fps", "nan", "a finite number"]),
    ("target_fps: .inf", ["target_fps", "inf"]),
    ("target_fps: 1.0e-300", ["target_fps", "1e-300", "from 1 to 10,000,000"]),
    ("target_fps: -5", ["target_fps", "-5"]),
    ("target_fps: fast", ["target_fps", "'fast'"]),
    ("clock_mhz: .nan", ["clock_mhz", "nan"]),
    ("clock_mhz: -100", ["clock_mhz", "-100", "from 10 to 250"]),
    ("clock_mhz: '100'", ["clock_mhz", "'100'"]),
    ("target: 100", ["unknown key 'target'", "target_fps, clock_mhz, layers"]),
    ("- 1\n- 2", ["must be a mapping with the keys target_fps, clock_mhz, layers"]),
    ("layers: [1, 2", ["is not valid YAML", "line"]),
    (bytes(range(256)) * 4, ["is not a text file"]),
    ("a: \x00\x01", ["is not valid YAML"]),
]


@pytest.mark.parametrize("text, words", FOLD_BAD, ids=[repr(t)[:40] for t, _ in FOLD_BAD])
def test_bad_fold_yaml(capsys, tmp_path, text, words):
    fold = write(tmp_path, "fold.yaml", text)
    one_line(capsys, ["rtl", "--out", str(tmp_path / "r"), "--fold", str(fold)],
             f"fold file {fold}", *words)
    assert not (tmp_path / "r").exists()


def test_fold_yaml_missing_and_a_folder(capsys, tmp_path):
    one_line(capsys, ["rtl", "--out", str(tmp_path / "r"), "--fold", str(tmp_path / "no.yaml")],
             "no.yaml not found")
    one_line(capsys, ["rtl", "--out", str(tmp_path / "r"), "--fold", str(tmp_path)],
             "is not a file")


def test_good_fold_specs_load():
    from accel.core.modelfile import load_model
    from accel.rtl import mapper as fold  # load() lives with the mapper
    from accel.cli import DEFAULT_MODEL

    qm = load_model(DEFAULT_MODEL)
    folds, settings = fold.load(qm, {"target_fps": 1500, "clock_mhz": 125,
                                     "layers": {"conv1": {"pe": 2}}})
    assert folds["conv1"].pe == 2
    assert (settings["target_fps"], settings["clock_mhz"]) == (1500.0, 125.0)
    assert settings["mapping"]["images_per_s"] >= 1500
    default = fold.load(qm, None)[1]  # the fastest design that fits the zybo, at its clock
    assert (default["target_fps"], default["clock_mhz"]) == (None, 100.0)
    assert fold.load(qm, {})[0] == fold.load(qm, None)[0]


# --- hls.yaml (accel hls --config) ------------------------------------------------------------

HLS_BAD = [
    ("boards: {zybo: {multipliers: lots}}", ["boards.zybo.multipliers", "'lots'", "an integer"]),
    ("clock_period_ns: '10'", ["clock_period_ns", "'10'", "a finite number from 4 to 100"]),
    ("clock_period_ns: -10", ["clock_period_ns", "-10"]),
    ("clock_period_ns: .nan", ["clock_period_ns", "nan"]),
    ("defaults: 5", ["defaults", "5", "a mapping {strategy, reuse_factor}"]),
    ("defaults: {reuse_factor: 0}", ["defaults.reuse_factor", "0", "or 'auto'"]),
    ("defaults: {strategy: fastest}", ["defaults.strategy", "'fastest'", "Resource or Latency"]),
    ("layers: {conv1: {reuse_factor: 2.5}}", ["layers.conv1.reuse_factor", "2.5"]),
    ("layers: {conv1: null}", ["layers.conv1", "not null"]),
    ("tb_images: 0", ["tb_images", "0", "from 1 to"]),
    ("fifo_depth: deep", ["fifo_depth", "'deep'", "reconvergent or whole_tensor"]),
    ("project_name: 'x || true; touch PWNED; true y'", ["project_name", "a C identifier"]),
    ("project_name: 'my net'", ["project_name", "'my net'"]),
    ("boards: {zybo: {part: [xc7z010clg400-1]}}", ["boards.zybo.part", "a Xilinx part name"]),
    ("nope: 1", ["unknown key 'nope'"]),
    ("[1, 2]", ["must be a mapping with the keys"]),
    ("layers: [\n", ["is not valid YAML"]),
    (b"\xff\xfe\x00binary", ["is not a text file"]),
]


@pytest.mark.parametrize("text, words", HLS_BAD, ids=[repr(t)[:40] for t, _ in HLS_BAD])
def test_bad_hls_yaml(capsys, tmp_path, text, words):
    cfg = write(tmp_path, "hls.yaml", text)
    one_line(capsys, ["hls", "--out", str(tmp_path / "p"), "--config", str(cfg)],
             f"--config {cfg}", *words)
    assert not (tmp_path / "p").exists()
    assert not (tmp_path / "PWNED").exists()


def test_good_hls_yaml_merges_over_the_defaults(tmp_path):
    cfg = write(tmp_path, "hls.yaml", "clock_period_ns: 8\ndefaults: {strategy: latency}\n"
                                      "layers: {conv1: {reuse_factor: 9}}\n")
    merged = generate.load_config(cfg)
    assert merged["clock_period_ns"] == 8 and merged["defaults"] == {"strategy": "latency",
                                                                     "reuse_factor": "auto"}
    assert merged["layers"] == {"conv1": {"reuse_factor": 9}}
    assert generate.load_config(write(tmp_path, "empty.yaml", ""))["project_name"] == "accel_net"


# --- build.yaml (accel build --config): the keys of the hardware options and --from ----------

BUILD_BAD = [
    ("fold: {layers: {conv1: {pe: 0}}}", ["fold.layers.conv1.pe", "an integer from 1 to 4096",
                                          "not 0"]),
    ("fold: {target_fps: .nan}", ["fold.target_fps", "a finite number", "not nan"]),
    ("fold: {target: 100}", ["unknown key 'fold.target'", "keys are target_fps, clock_mhz"]),
    ("fold: 5", ["fold must be a fold.yaml path or a mapping {target_fps, clock_mhz, layers}",
                 "not 5"]),
    ("fold: null", ["fold must be", "not null"]),
    ("fold: missing.yaml", ["fold file", "missing.yaml not found"]),
    ("fold: bad-fold.yaml", ["fold file", "bad-fold.yaml: layers.conv1.simd", "not 2.5"]),
    ("target_fps: 0", ["target_fps must be a finite number from 1 to 10,000,000", "not 0"]),
    ("target_fps: '2000'", ["target_fps must be", "not '2000'"]),
    ("clock_mhz: 400", ["clock_mhz must be a finite number from 10 to 250 (MHz)", "not 400"]),
    ("clock_mhz: .inf", ["clock_mhz must be", "not inf"]),
    ("hls_config: 7", ["hls_config must be an hls.yaml path or a mapping of its keys", "not 7"]),
    ("hls_config: {defaults: {strategy: fastest}}",
     ["hls_config", "defaults.strategy must be Resource or Latency", "not 'fastest'"]),
    ("hls_config: {clock_period_ns: 1}", ["hls_config", "clock_period_ns must be", "not 1"]),
    ("hls_config: {nope: 1}", ["hls_config", "unknown key 'nope'"]),
    ("hls_config: missing.yaml", ["HLS config", "missing.yaml not found"]),
    ("hls_config: bad-hls.yaml", ["HLS config", "bad-hls.yaml: tb_images must be", "not 0"]),
    ("start: synth", ["start must be a stage: model, golden, hls, rtl", "not 'synth'"]),
    ("from: golden", ["unknown key 'from'", "start"]),
]


@pytest.mark.parametrize("text, words", BUILD_BAD, ids=[t for t, _ in BUILD_BAD])
def test_bad_build_yaml(capsys, tmp_path, text, words):
    write(tmp_path, "bad-fold.yaml", "layers: {conv1: {simd: 2.5}}\n")
    write(tmp_path, "bad-hls.yaml", "tb_images: 0\n")
    cfg = write(tmp_path, "build.yaml", f"board: zybo\nout: b\n{text}\n")
    line = one_line(capsys, ["build", "--config", str(cfg)], *words)
    assert str(tmp_path) in line  # the file: build.yaml, or the fold / HLS file it names
    assert not (tmp_path / "b").exists()


def _state(tmp_path) -> dict:
    import json

    return json.loads((tmp_path / "b" / "zybo" / "build.json").read_text())


@pytest.fixture
def no_report(monkeypatch):
    """build.json is what these tests read: no report.md and plots (seconds each)."""
    monkeypatch.setattr("accel.flow.report.write", lambda *a, **k: None)


def test_build_flags_override_the_hardware_keys(capsys, tmp_path, no_report):
    """fold / target_fps / clock_mhz / hls_config from build.yaml reach the flow (build.json
    records what the stages get); each flag given on the command line wins over its key."""
    write(tmp_path, "fold.yaml", "target_fps: 500\nlayers: {conv1: {pe: 2}}\n")
    write(tmp_path, "other.yaml", "layers: {conv1: {simd: 3}}\n")
    cfg = write(tmp_path, "build.yaml", "board: zybo\nbackend: rtl\nuntil: model\nout: b\n"
                "fold: fold.yaml\ntarget_fps: 700\nclock_mhz: 90\n")
    argv = ["build", "--config", str(cfg)]
    assert main(argv) == 0
    state = _state(tmp_path)
    assert state["fold_spec"] == {"target_fps": 700, "clock_mhz": 90, "layers": {"conv1": {"pe": 2}}}
    assert state["clock_mhz"] == 90
    assert main(argv + ["--target-fps", "900", "--clock-mhz", "120"]) == 0
    assert _state(tmp_path)["fold_spec"] == {"target_fps": 900, "clock_mhz": 120,
                                              "layers": {"conv1": {"pe": 2}}}
    assert main(argv + ["--fold", str(tmp_path / "other.yaml")]) == 0
    assert _state(tmp_path)["fold_spec"]["layers"] == {"conv1": {"simd": 3}}
    # inline in the file; no clock anywhere but the fold's: the fold's is the build's
    write(tmp_path, "build.yaml", "board: zybo\nbackend: rtl\nuntil: model\nout: b\n"
          "fold: {clock_mhz: 50, layers: {conv1: {pe: 4}}}\n")
    assert main(argv) == 0
    state = _state(tmp_path)
    assert state["fold_spec"] == {"clock_mhz": 50, "layers": {"conv1": {"pe": 4}}}
    assert state["clock_mhz"] == 50 and "50 MHz" in capsys.readouterr().out


def test_build_hls_config_key_and_flag(capsys, tmp_path, no_report):
    write(tmp_path, "h.yaml", "clock_period_ns: 8\nboards: {zybo: {multipliers: 32}}\n")
    cfg = write(tmp_path, "build.yaml", "board: zybo\nuntil: model\nout: b\nhls_config: h.yaml\n"
                "fold: {target_fps: 100}\n")
    assert main(["build", "--config", str(cfg)]) == 0
    state = _state(tmp_path)
    assert state["clock_mhz"] == 125 and state["hls_multiplier_budget"] == 32
    assert state["fold_spec"] is None  # the hls backend does not fold
    assert "fold not used by the hls backend" in capsys.readouterr().out
    write(tmp_path, "build.yaml", "board: zybo\nuntil: model\nout: b\n"
          "hls_config: {boards: {zybo: {multipliers: 16}}}\n")
    assert main(["build", "--config", str(cfg), "--clock-mhz", "100"]) == 0
    assert (_state(tmp_path)["clock_mhz"], _state(tmp_path)["hls_multiplier_budget"]) == (100, 16)
    assert main(["build", "--config", str(cfg), "--hls-config", str(tmp_path / "h.yaml")]) == 0
    assert _state(tmp_path)["hls_multiplier_budget"] == 32


def test_api_build_checks_its_numbers(tmp_path, no_report):
    from accel.api import Model

    with pytest.raises(AccelError, match=r"build options: clock_mhz must be a finite number "
                       r"from 10 to 250 \(MHz\), not 400"):
        Model.load().build("zybo", out=tmp_path / "b", until="model", clock_mhz=400)
    with pytest.raises(AccelError, match=r"fold spec \(inline\): layers.conv1.pe must be"):
        Model.load().build("zybo", out=tmp_path / "b", backend="rtl", until="model",
                           fold={"layers": {"conv1": {"pe": "4"}}})
    assert not (tmp_path / "b").exists()
    r = Model.load().build("zybo", out=tmp_path / "b", backend="rtl", until="model",
                           fold={"layers": {"conv1": {"pe": 4}}}, target_fps=250, log=lambda s: 0)
    assert r.code == 0 and _state(tmp_path)["fold_spec"]["target_fps"] == 250


# --- board YAML ($ACCEL_BOARDS) ---------------------------------------------------------------

BOARD_BAD = [
    ("part: [xc7z010clg400-1]\nclock_mhz: 100\n" + CAPACITY, ["part", "a Xilinx part name"]),
    ("part: artix\nclock_mhz: 100\n" + CAPACITY, ["part", "'artix'"]),
    ("part: xc7z010clg400-1\nclock_mhz: 100\ncapacity: {LUT: many, FF: 1, BRAM36: 1, DSP48E1: 1}",
     ["capacity.LUT", "'many'", "an integer"]),
    ("part: xc7z010clg400-1\nclock_mhz: 100\ncapacity: {LUT: 1}", ["missing key 'capacity.FF'"]),
    ("part: xc7z010clg400-1\nclock_mhz: 900\n" + CAPACITY, ["clock_mhz", "900", "from 10 to 250"]),
    ("part: xc7z010clg400-1\nclock_mhz: .nan\n" + CAPACITY, ["clock_mhz", "nan"]),
    ("part: xc7z010clg400-1\n" + CAPACITY, ["missing key 'clock_mhz'"]),
    (BOARD + "ps7: {PCW_UART1_PERIPHERAL_ENABLE: '1; exec rm -rf /'}", ["ps7.PCW_UART1"]),
    (BOARD + "ps7: {'bad key': 1}", ["ps7 has the key 'bad key'", "a PS7 CONFIG name"]),
    (BOARD + "board_part: [a]", ["board_part", "a Vivado board part"]),
    (BOARD + "ddr_mb: 0.5", ["ddr_mb", "0.5"]),
    (BOARD + "nmae: x", ["unknown key 'nmae'"]),
    ("just text", ["must be a mapping with the keys"]),
    (bytes(range(256)) * 4, ["is not a text file"]),
]


@pytest.mark.parametrize("text, words", BOARD_BAD, ids=[repr(t)[:40] for t, _ in BOARD_BAD])
def test_bad_board_yaml(capsys, tmp_path, monkeypatch, text, words):
    path = write(tmp_path, "myboard.yaml", text)
    monkeypatch.setenv("ACCEL_BOARDS", str(tmp_path))
    one_line(capsys, ["run", "--board", "myboard"], f"board file {path}", *words)


def test_good_board_yaml(tmp_path, monkeypatch):
    write(tmp_path, "myboard.yaml", BOARD + "ps7: {PCW_UIPARAM_DDR_FREQ_MHZ: 525, "
                                            "PCW_UART1_UART1_IO: MIO 48 .. 49}\n")
    monkeypatch.setenv("ACCEL_BOARDS", str(tmp_path))
    b = boards.get("myboard")
    assert (b.name, b.part, b.clock_mhz, b.ddr_mb) == ("myboard", "xc7z010clg400-1", 100.0, 512)
    assert b.ps7 == {"PCW_UIPARAM_DDR_FREQ_MHZ": "525", "PCW_UART1_UART1_IO": "MIO 48 .. 49"}


# --- command-line numbers ---------------------------------------------------------------------

CLI_BAD = [
    (["rtl", "--out", "{tmp}/r", "--target-fps", "nan"], "--target-fps"),
    (["rtl", "--out", "{tmp}/r", "--target-fps", "inf"], "--target-fps"),
    (["rtl", "--out", "{tmp}/r", "--target-fps", "1e-300"], "--target-fps"),
    (["rtl", "--out", "{tmp}/r", "--target-fps", "0"], "--target-fps"),
    (["rtl", "--out", "{tmp}/r", "--target-fps", "fast"], "--target-fps"),
    (["run", "--board", "sim", "--batch", "0"], "--batch"),
    (["run", "--board", "sim", "--batch", "-5"], "--batch"),
    (["run", "--board", "sim", "--batch", "2.5"], "--batch"),
    (["run", "--board", "sim", "--timeout", "nan"], "--timeout"),
    (["run", "--board", "sim", "--timeout", "0"], "--timeout"),
    (["run", "--board", "sim", "--images", "99999999999999999999"], "--images"),
    (["verify", "--images", "99999999999999999999"], "--images"),
    (["verify", "--images", "0"], "--images"),
    (["eval", "--images", "1e3"], "--images"),
    (["sim", "--images", "-1"], "--images"),
    (["build", "--board", "zybo", "--out", "{tmp}/b", "--images", "0"], "--images"),
    (["train", "--out", "{tmp}/t", "--lr", "nan"], "--lr"),
    (["train", "--out", "{tmp}/t", "--epochs", "2.5"], "--epochs"),
    (["compress", "--out", "{tmp}/c", "--epochs", "inf"], "--epochs"),
    (["compress", "--out", "{tmp}/c", "--threads", "0"], "--threads"),
]


@pytest.mark.parametrize("argv, option", CLI_BAD, ids=[" ".join(a[-2:]) for a, _ in CLI_BAD])
def test_bad_numbers(capsys, tmp_path, argv, option):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    line = one_line(capsys, argv, f"argument {option}: must be", f"not '{argv[-1]}'")
    assert "finite number" in line or "an integer" in line
    assert not list(tmp_path.iterdir())


def test_cli_types_share_the_file_rules():
    fps = config.cli(config.FPS)
    assert fps("4000") == 4000.0 and fps("1e4") == 1e4
    for text in ("nan", "inf", "-inf", "1e-300", "1e400", "0x10"):
        with pytest.raises(Exception, match="must be a finite number"):
            fps(text)
    batch = config.cli_int(1, 65_536)
    assert batch("256") == 256
    for text in ("0", "2.5", "1e3", "true", "65537"):
        with pytest.raises(Exception, match="must be an integer from 1 to 65536"):
            batch(text)
    with pytest.raises(AccelError, match="target_fps must be"):
        config.fold_spec({"target_fps": math.inf})
