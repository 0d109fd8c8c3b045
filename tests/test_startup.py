"""Start-up: ``import snr_models`` and ``snr --help`` load no heavy library until it is used.

Each check runs in a fresh interpreter (a subprocess) and reads ``sys.modules`` afterwards:
pandera (and through it pyspark), the simulator and matplotlib — and mlflow — must not be
there: the package's ``__init__`` modules import lazily, and each command imports its job
inside its function.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("pandera", "pyspark", "matplotlib", "snr_models.simulate", "mlflow")
REPORT = f"import json, sys; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"


def _loaded(code: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\n{REPORT}"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_import_snr_models_loads_no_heavy_library() -> None:
    assert _loaded("import snr_models") == []


@pytest.mark.parametrize("command", [[], ["run"], ["score"], ["churn", "train"]])
def test_snr_help_loads_no_heavy_library(command: list[str]) -> None:
    code = (
        "import sys\n"
        f"sys.argv = ['snr', *{command!r}, '--help']\n"
        "from snr_models.cli import app\n"
        "try:\n    app()\nexcept SystemExit:\n    pass"
    )
    assert _loaded(code) == []


def test_the_public_names_still_load_on_use() -> None:
    # the lazy names resolve to the real objects, and loading one loads what it needs
    code = "import snr_models as snr\nassert callable(snr.net_rate) and callable(snr.simulate)"
    assert set(_loaded(code)) >= {"pandera", "snr_models.simulate"}


def test_simulate_stays_the_function_when_a_submodule_is_imported_first() -> None:
    # importing snr_models.simulate.exports first binds the subpackage on the package; the
    # public name must still be the function (notebook 06 does exactly this)
    code = (
        "import inspect\nimport snr_models as snr\n"
        "from snr_models.simulate.exports import write_exports\n"
        "assert inspect.isfunction(snr.simulate), snr.simulate\n"
        "from snr_models import simulate\nassert inspect.isfunction(simulate)"
    )
    assert "snr_models.simulate" in _loaded(code)
