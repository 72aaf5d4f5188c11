"""``kundresa demo`` compiles the fast paths' kernels while it sets up
(:func:`kundresa.demo.project.compile_kernels`), so a fresh server's first pages load them,
and the file funnel's kernels ahead of time (:mod:`kundresa.native`).

The numba kernels are checked with the compiled code turned off (``KUNDRESA_NATIVE=0``): they
are what runs where that code is not there."""

from __future__ import annotations

from pathlib import Path

import numba
import pytest

from kundresa import native
from kundresa.analyses import get
from kundresa.analytics import _funnel_any_kernels, _kernels_jit, _stage_kernels
from kundresa.demo.project import KERNEL_ANALYSES, compile_kernels


def test_every_page_kernel_is_compiled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, params in KERNEL_ANALYSES:
        get(name).check(params)  # registered analyses with valid parameters
    monkeypatch.setenv("KUNDRESA_NATIVE", "0")
    monkeypatch.setenv("KUNDRESA_NATIVE_DIR", str(tmp_path))
    native.reset()
    try:
        compile_kernels()
    finally:
        native.reset()
    # The file funnel's kernels were compiled ahead of time too, for this process's key.
    assert (tmp_path / native.kernel_key() / "index.json").is_file()
    kernels = {
        f"{module.__name__}.{name}": value
        for module in (_kernels_jit, _stage_kernels, _funnel_any_kernels)
        for name, value in vars(module).items()
        if isinstance(value, numba.core.registry.CPUDispatcher)
        and value.__module__ == module.__name__
    }
    wanted = {
        "kundresa.analytics._stage_kernels._stage_walk",
        "kundresa.analytics._stage_kernels._assign_stages",
        "kundresa.analytics._kernels_jit._funnel_best",
        "kundresa.analytics._kernels_jit._dfg",
        "kundresa.analytics._kernels_jit._coded_sequence",
        "kundresa.analytics._funnel_any_kernels._funnel_any_best",
    }
    assert wanted <= set(kernels)
    assert not [k for k in wanted if not kernels[k].signatures], "not compiled"


# Run in a fresh process: the kernels a test run has compiled already say nothing there.
_FILE_FUNNEL = r"""
import sys, tempfile
from pathlib import Path

import numba
import pyarrow.parquet as pq

from kundresa.demo.generator import generate_events
from kundresa.demo.project import compile_kernels
from kundresa.project import Project


def compiled():
    return {
        f"{name}.{key}": set(value.signatures)
        for name, module in list(sys.modules.items())
        if name.startswith("kundresa")
        for key, value in vars(module).items()
        if isinstance(value, numba.core.registry.CPUDispatcher)
    }


compile_kernels()
before = compiled()
with tempfile.TemporaryDirectory() as folder:
    path = Path(folder) / "events.parquet"
    pq.write_table(generate_events(300, seed=7).drop_columns(["properties"]), path)
    with Project.from_events(path, in_place=True) as project:
        assert project.warehouse.in_place is not None, "not read in place"
        project.run("funnel", steps=["page_view", "checkout_start", "purchase"], window="7d")
after = compiled()
missing = sorted(k for k, v in after.items() if v - before.get(k, set()))
print("missing:", missing)
sys.exit(1 if missing else 0)
"""


def test_file_funnel_kernels_are_compiled(tmp_path: Path) -> None:
    """Every kernel (and signature) ``kundresa funnel --events FILE.parquet`` runs was compiled
    by ``compile_kernels``: none is compiled for the first time by the funnel over a file."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "KUNDRESA_NATIVE": "0", "KUNDRESA_NATIVE_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", _FILE_FUNNEL], capture_output=True, text=True, check=False, env=env
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
