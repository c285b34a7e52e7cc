"""Cache keys follow the code: the cached HLS and RTL projects (accel.hls.project_for,
accel.rtl.project_for) are keyed by cache.module_hash of their generator, which walks what it really
imports. Edited in a copy of the package (cache.PKG pointed at it): the stream packing and the IR
change both keys, a module neither backend imports changes neither."""

import shutil
from pathlib import Path

import pytest

from accel import hls, rtl
from accel.cli import DEFAULT_MODEL
from accel.core import cache
from accel.core.modelfile import load_model


@pytest.fixture(scope="module")
def qm():
    return load_model(DEFAULT_MODEL)


@pytest.fixture
def pkg(tmp_path, monkeypatch):
    copy = tmp_path / "accel"
    shutil.copytree(cache.PKG, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    monkeypatch.setattr(cache, "PKG", copy)
    return copy


def project_keys(qm, monkeypatch) -> dict:
    """The cache folder names project_for would generate into (nothing is generated)."""
    names = {}

    def generated(kind, name, make):
        names[kind] = name
        return Path(name)

    monkeypatch.setattr(cache, "generated", generated)
    hls.project_for(qm)
    rtl.project_for(qm)
    return names


def edit(path: Path) -> None:
    path.write_text(path.read_text() + "\n# edited\n")


@pytest.mark.parametrize("module", ["core/stream.py", "core/ir.py"])
def test_an_edit_changes_the_hls_and_rtl_keys(qm, pkg, monkeypatch, module):
    before = project_keys(qm, monkeypatch)
    assert set(before) == {"hls/projects", "rtl/projects"}
    edit(pkg / module)
    after = project_keys(qm, monkeypatch)
    for kind in before:
        assert after[kind] != before[kind], f"{module} edited, {kind} key unchanged"


def test_an_unrelated_edit_changes_neither_key(qm, pkg, monkeypatch):
    before = project_keys(qm, monkeypatch)
    edit(pkg / "cbackend" / "generate.py")  # the C backend: neither hls nor rtl imports it
    assert project_keys(qm, monkeypatch) == before


def test_the_copy_is_what_is_hashed(pkg):
    """The keys above come from the copied tree, not the installed one."""
    files = cache.module_files("accel.rtl.generate")
    assert files and all(f.is_relative_to(pkg) for f in files if f.suffix == ".py")
    assert pkg / "core" / "stream.py" in files and pkg / "core" / "ir.py" in files
