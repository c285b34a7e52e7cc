"""The Python API: the README's example runs as shown (and prints what the README shows), the
notebook examples/quickstart.ipynb holds the same code, and the API's own contracts."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import accel
from accel.core.errors import AccelError

ROOT = Path(__file__).resolve().parent.parent
MARKER = "<!-- api-example"


def readme_example() -> tuple[str, list[str]]:
    """(the python block after the marker, the lines of the output block that follows it)."""
    text = (ROOT / "README.md").read_text()
    after = text[text.index(MARKER):]
    code = re.search(r"```python\n(.*?)```", after, re.S).group(1)
    shown = re.search(r"```python\n.*?```.*?```\n(.*?)```", after, re.S).group(1)
    return code, shown.splitlines()


def notebook_code() -> str:
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(ROOT / "examples" / "quickstart.ipynb", as_version=4)
    nbformat.validate(nb)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


def code_lines(code: str) -> list[str]:
    """The lines of a code block that are not blank, trailing spaces dropped (indentation kept)."""
    return [line.rstrip() for line in code.splitlines() if line.strip()]


# Printed by a cell appended after the notebook's own: the facts the README example promises.
CHECK = """import json as _json
print("accel-check:", _json.dumps({"verify": v.passed, "sim": s.passed, "build": b.code,
      "sim_json": _json.loads(s.to_json())["mismatched_images"],
      "build_json": _json.loads(b.to_json())["code"]}))"""


@pytest.fixture(scope="module")
def notebook_run(tmp_path_factory):
    """examples/quickstart.ipynb top to bottom in a kernel (nbclient) in a scratch folder, once:
    (the folder, the lines it printed on stdout, the facts of the CHECK cell). The notebook's code
    is the README's API block line for line (test_notebook_is_the_readme_example), so this one run
    is the README example running as it stands, in the kernel a notebook user has; running the
    block a second time in-process proved nothing more and cost a second Verilator simulation and
    a second hls4ml project."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    folder = tmp_path_factory.mktemp("notebook")
    nb = nbformat.read(ROOT / "examples" / "quickstart.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(CHECK))
    # timeout: a guard against a hung cell, generous: the sim cell may wait for the other
    # pytest worker's build of the same Verilator model (one build, under a lock)
    nbclient.NotebookClient(nb, timeout=1800, kernel_name="python3",
                            resources={"metadata": {"path": str(folder)}}).execute()
    stdout = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                     for o in c.outputs if o.get("name") == "stdout").splitlines()
    checks = [l for l in stdout if l.startswith("accel-check: ")]
    assert len(checks) == 1, stdout
    return folder, stdout, json.loads(checks[0].split(" ", 1)[1])


def test_readme_example_runs_and_prints_what_it_shows(notebook_run):
    code, shown = readme_example()
    for step in ("predict", "verify", "rtl", "sim", "build"):
        assert f"m.{step}(" in code, step
    folder, printed, facts = notebook_run
    for line in shown:
        assert line in printed, (line, printed)
    assert facts == {"verify": True, "sim": True, "build": 0, "sim_json": 0, "build_json": 0}
    assert (folder / "out" / "build" / "zybo" / "hls" / "project").is_dir()
    assert (folder / "out" / "rtl" / "accel_rtl.json").is_file()


def test_notebook_is_the_readme_example():
    code, _ = readme_example()
    assert code_lines(notebook_code()) == code_lines(code)


def test_import_accel_is_light():
    import subprocess
    import sys

    code = ("import sys, accel; heavy = [m for m in ('numpy', 'onnx', 'torch', 'accel.api') "
            "if m in sys.modules]; assert not heavy, heavy; assert accel.Model.__name__ == 'Model'"
            "; assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_predict_arrays_and_image_files(tmp_path):
    m = accel.load()
    images = m.images(3)
    assert m.predict(images.x).tolist() == images.y.tolist()
    assert m.predict(images.x[0]).tolist() == images.y[:1].tolist()  # one CHW image
    paths = []
    for i, img in enumerate(images.x):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(img[0]).save(paths[-1])
    assert m.predict(paths).tolist() == images.y.tolist()
    assert m.predict(str(paths[0])).tolist() == images.y[:1].tolist()
    assert m.scores(images.x).shape == (3, 10)


@pytest.mark.parametrize("bad", [np.zeros((1, 1, 28, 28), np.float32),
                                 np.zeros((1, 3, 28, 28), np.uint8)])
def test_predict_refuses_wrong_arrays(bad):
    with pytest.raises(AccelError, match="uint8"):
        accel.load().predict(bad)


def test_verify_on_arrays_and_evaluate():
    m = accel.load()
    x = np.random.default_rng(0).integers(0, 256, (2, 1, 28, 28), dtype=np.uint8)
    v = m.verify(levels="golden,qonnx", images=x)
    assert v.passed and v.images == 2 and v.dataset == "arrays"
    assert [r.level for r in v.levels] == ["golden", "qonnx"]
    e = m.evaluate(images=20)
    assert e.images == 20 and e.accuracy > 0.9 and json.loads(e.to_json())["level"] == "golden"


def test_train_refuses_unknown_options(tmp_path):
    with pytest.raises(AccelError, match="unknown training option"):
        accel.Model.train(tmp_path / "run", epoch=3)


def test_an_rtl_project_is_checked_against_its_own_model(tmp_path):
    """`accel sim --rtl D` takes D's model when --model is not given; another model's golden
    reference would make every image "differ", so the API refuses the pair with the fix."""
    import argparse

    from accel.cli import _load

    int4 = ROOT / "benchmarks" / "models" / "tiny-mnist-int4.onnx"
    m4 = accel.load(int4)
    m4.rtl(tmp_path / "r4", board="zybo")
    assert Path(_load(argparse.Namespace(model=None, rtl=str(tmp_path / "r4"))).path) == int4
    with pytest.raises(AccelError, match="was generated from .*tiny-mnist-int4.onnx, not"):
        accel.load().sim(images=1, rtl=tmp_path / "r4")
