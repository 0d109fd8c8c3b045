"""The rank of the normal equations is decided the same way on every processor.

An exactly collinear design leaves its smallest eigenvalues at rounding level (about 1e-17 of
the largest here), and how small depends on the BLAS kernels; a cut at machine precision then
decides the rank differently on different processors. The golden world's placebo standard
errors moved by 3% between OpenBLAS's Haswell and Zen kernels before the cut became
``RANK_RTOL``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from snr_models.attribution.inference import RANK_RTOL, solve_normal


@pytest.mark.parametrize("seed", range(50))
def test_a_collinear_design_gets_the_minimum_norm_solution(seed: int) -> None:
    # expected: numpy's SVD least squares on the design itself (not its normal equations)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(72, 5)) * rng.uniform(0.1, 3, 5)
    x = np.column_stack([x, 0.3 * x[:, 0] + 0.7 * x[:, 1] - 1.1 * x[:, 2]])
    y = rng.normal(size=72)
    got = solve_normal(x.T @ x, x.T @ y)
    np.testing.assert_allclose(got, np.linalg.lstsq(x, y, rcond=RANK_RTOL)[0], atol=1e-10)


def test_a_well_conditioned_design_gets_the_exact_solution() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(72, 6))
    y = rng.normal(size=72)
    np.testing.assert_allclose(
        solve_normal(x.T @ x, x.T @ y), np.linalg.solve(x.T @ x, x.T @ y), rtol=1e-12
    )


_PLACEBO_SE = """
import json
from snr_models.attribution import build_panel, estimate_joint
from snr_models.simulate import simulate
world = simulate(n_clients=1500, n_branches=6, n_months=12, seed=3)
eff = estimate_joint(build_panel(world.tables))
print(json.dumps(eff.to_frame()["se"].tolist()))
"""


def test_placebo_standard_errors_do_not_depend_on_the_blas_kernels() -> None:
    # the golden world of tests/jobs/test_golden.py: its pilots are placebo-widened, and some
    # permuted draws are exactly collinear
    out = {}
    for core in ("Haswell", "SandyBridge"):
        env = os.environ | {"OPENBLAS_CORETYPE": core}
        run = subprocess.run(
            [sys.executable, "-c", _PLACEBO_SE], env=env, capture_output=True, text=True, check=True
        )
        out[core] = json.loads(run.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(out["Haswell"], out["SandyBridge"], rtol=1e-9)
