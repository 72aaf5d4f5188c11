"""``kundresa demo`` compiles the fast paths' kernels while it sets up
(:func:`kundresa.demo.project.compile_kernels`), so a fresh server's first pages load them."""

from __future__ import annotations

import numba

from kundresa.analyses import get
from kundresa.analytics import _funnel_any_kernels, _kernels, _stage_kernels
from kundresa.demo.project import KERNEL_ANALYSES, compile_kernels


def test_every_page_kernel_is_compiled() -> None:
    for name, params in KERNEL_ANALYSES:
        get(name).check(params)  # registered analyses with valid parameters
    compile_kernels()
    kernels = {
        f"{module.__name__}.{name}": value
        for module in (_kernels, _stage_kernels, _funnel_any_kernels)
        for name, value in vars(module).items()
        if isinstance(value, numba.core.registry.CPUDispatcher)
        and value.__module__ == module.__name__
    }
    wanted = {
        "kundresa.analytics._stage_kernels._stage_walk",
        "kundresa.analytics._stage_kernels._assign_stages",
        "kundresa.analytics._kernels._funnel_best",
        "kundresa.analytics._kernels._dfg",
        "kundresa.analytics._kernels._coded_sequence",
        "kundresa.analytics._funnel_any_kernels._funnel_any_best",
    }
    assert wanted <= set(kernels)
    assert not [k for k in wanted if not kernels[k].signatures], "not compiled"
