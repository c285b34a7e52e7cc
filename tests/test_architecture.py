"""The package's structure, checked from its source (docs/architecture.md states the rules):
no import cycle, each layer imports only what it may, and the torch-free part runs without torch."""

import ast
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "accel"

# Who may import whom, by package prefix (the module's own package is always allowed).
ALLOWED = {
    "accel.core": ("accel.core",),
    "accel.golden": ("accel.core",),
    "accel.cbackend": ("accel.core",),
    "accel.hls": ("accel.core",),
    "accel.rtl": ("accel.core",),
    "accel.python": ("accel.core.stream",),
    "accel.data": ("accel.core",),
    "accel.verify": ("accel.core", "accel.golden", "accel.cbackend", "accel.hls", "accel.rtl",
                     "accel.training", "accel.data"),
}


def modules() -> dict[str, Path]:
    out = {}
    for path in PKG.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = modules()


def imports(name: str, path: Path) -> set[str]:
    """accel modules imported anywhere in a file (top level or inside functions): a lazy import is
    still a dependency. `from P import m` counts as P.m when m is a module, else as P."""
    pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = pkg.split(".")[:len(pkg.split(".")) - node.level + 1]
                base = ".".join(up + ([node.module] if node.module else []))
            subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES]
            found.update(subs or [base])
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: imports(name, path) for name, path in MODULES.items()}


def test_no_import_cycle():
    # Tarjan's strongly connected components: any component of more than one module is a cycle.
    index, low, stack, on, cycles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in GRAPH:
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


@pytest.mark.parametrize("prefix", sorted(ALLOWED))
def test_layering(prefix):
    allowed = ALLOWED[prefix]
    bad = []
    for name, deps in GRAPH.items():
        if name != prefix and not name.startswith(prefix + "."):
            continue
        for dep in deps:
            own = dep == prefix or dep.startswith(prefix + ".")
            if not own and dep != "accel" and not dep.startswith(allowed):
                bad.append(f"{name} -> {dep}")
    assert not bad, f"{prefix} may import only {allowed}: {bad}"


def test_cycle_check_can_fail(monkeypatch):
    """The cycle test finds a planted cycle (so its pass above means something)."""
    planted = dict(GRAPH)
    planted["accel.core.arith"] = GRAPH["accel.core.arith"] | {"accel.golden"}
    monkeypatch.setattr(sys.modules[__name__], "GRAPH", planted)
    with pytest.raises(AssertionError, match="import cycles"):
        test_no_import_cycle()


def test_pyproject_lists_every_package():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {n for n, p in MODULES.items() if p.name == "__init__.py"} | {"accel.vivado"}
    assert listed == on_disk


NO_TORCH = textwrap.dedent("""
    import importlib.abc, sys

    class NoTorch(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("torch", "brevitas", "torchvision"):
                raise ImportError(f"{name} is unimportable in this test")

    sys.meta_path.insert(0, NoTorch())
    import tempfile
    from pathlib import Path
    import numpy as np

    from accel.core.modelfile import load_model
    from accel import golden
    from accel.cbackend import write as c_write
    from accel.hls import generate as hls_generate
    from accel.rtl import generate as rtl_generate
    from accel.python import driver

    qm = load_model(sys.argv[1])
    x = np.random.default_rng(0).integers(0, 256, (4, *qm.input_shape), dtype=np.uint8)
    y = golden.run(qm, x)
    assert y.shape == (4, qm.num_classes) and len(np.unique(y)) > 4
    with tempfile.TemporaryDirectory() as tmp:
        c_write(qm, Path(tmp) / "c", build=False)
        rtl_generate.write(qm, Path(tmp) / "rtl")
        hls_generate.write(qm, Path(tmp) / "hls")
        assert (Path(tmp) / "rtl" / "accel_rtl.json").is_file()
        assert (Path(tmp) / "hls" / "accel_hls.json").is_file()
        assert (Path(tmp) / "c" / "accel_model.c").is_file()
    assert not any(m.split(".")[0] in ("torch", "brevitas") for m in sys.modules)
    print("ok")
""")


def test_torch_free_part_runs_without_torch(tmp_path):
    """The model-file reader, golden, every backend's writer and the board driver import and run
    with torch unimportable (a board or a CI box reads model files without it)."""
    env_cache = {"ACCEL_CACHE": str(tmp_path / "cache")}
    import os

    proc = subprocess.run([sys.executable, "-c", NO_TORCH, str(PKG / "default" / "tiny-mnist-int8.onnx")],
                          capture_output=True, text=True, env={**os.environ, **env_cache}, timeout=600)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stderr[-3000:]


def test_the_guard_blocks_torch():
    """The subprocess above really has no torch: the same guard makes `import torch` fail."""
    code = NO_TORCH.split("import tempfile")[0] + "import torch\n"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "unimportable" in proc.stderr
