"""Input handling: listwise missing with n reported, constant columns, collinearity."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from snr_models.drivers import CollinearityWarning, key_drivers
from snr_models.drivers.inputs import prepare
from snr_models.errors import SnrInputError


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    data = pd.DataFrame(rng.integers(1, 6, size=(300, 3)).astype(float), columns=list("abc"))
    data["y"] = data["a"] + 0.5 * data["b"] + rng.normal(size=300)
    return data


def test_listwise_reports_rows_used_and_dropped(frame: pd.DataFrame) -> None:
    data = frame.copy()
    data.loc[:9, "a"] = np.nan  # 10 rows
    data.loc[5:19, "y"] = np.nan  # 15 rows, 5 of them overlapping: 20 incomplete rows
    before = data.copy()
    res = key_drivers(data, "y", list("abc"), n_boot=0)
    assert (res.n_used, res.n_dropped) == (280, 20)
    assert "n used 280, dropped 20" in res.summary()
    pd.testing.assert_frame_equal(data, before)  # the caller's frame is not modified


def test_missing_raise_refuses_missing_values(frame: pd.DataFrame) -> None:
    data = frame.copy()
    data.loc[0, "b"] = np.nan
    with pytest.raises(SnrInputError, match="'b': 1"):
        prepare(data, "y", list("abc"), missing="raise")


def test_constant_column_is_a_clear_error_naming_it(frame: pd.DataFrame) -> None:
    data = frame.assign(c=3.0)
    with pytest.raises(SnrInputError, match=r"\['c'\] constant"):
        key_drivers(data, "y", list("abc"), n_boot=0)


def test_constant_after_listwise_deletion_is_caught(frame: pd.DataFrame) -> None:
    # 'c' varies only on rows that are dropped for a missing target
    data = frame.assign(c=3.0)
    data.loc[:4, "c"] = 1.0
    data.loc[:4, "y"] = np.nan
    with pytest.raises(SnrInputError, match="constant over the 295 complete rows"):
        key_drivers(data, "y", list("abc"), n_boot=0)


def test_strong_collinearity_warns_with_vif(frame: pd.DataFrame) -> None:
    rng = np.random.default_rng(1)
    data = frame.assign(d=frame["a"] + 0.05 * rng.normal(size=len(frame)))
    with pytest.warns(CollinearityWarning, match="variance inflation") as record:
        res = key_drivers(data, "y", list("abcd"), n_boot=0)
    assert "'a'" in str(record[0].message) and "'d'" in str(record[0].message)
    # VIF_j = 1 / (1 - R²_j), R²_j of driver j on the others: recomputed with least squares
    X = data[list("bcd")].to_numpy()
    design = np.column_stack([np.ones(len(X)), X])
    a = data["a"].to_numpy()
    resid = a - design @ np.linalg.lstsq(design, a, rcond=None)[0]
    r2_a = 1 - resid @ resid / ((a - a.mean()) @ (a - a.mean()))
    assert res.table.loc["a", "vif"] == pytest.approx(1 / (1 - r2_a), rel=1e-8)
    assert res.table["importance"].sum() == pytest.approx(res.r2)


def test_no_warning_without_collinearity(frame: pd.DataFrame) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", CollinearityWarning)
        key_drivers(frame, "y", list("abc"), n_boot=0)


def test_exact_collinearity_names_the_columns(frame: pd.DataFrame) -> None:
    data = frame.assign(d=frame["a"] + frame["b"])
    with pytest.raises(SnrInputError, match=r"exactly collinear") as info:
        key_drivers(data, "y", list("abcd"), n_boot=0)
    assert all(f"'{c}'" in str(info.value) for c in "abd")
    assert "'c'" not in str(info.value)


@pytest.mark.parametrize(
    ("target", "drivers", "message"),
    [
        ("y", ["a", "zz"], "not in the data"),
        ("y", ["a", "y"], "also listed as a driver"),
        ("y", [], "no driver"),
        ("y", ["a", "a"], "listed twice"),
    ],
)
def test_bad_columns(frame: pd.DataFrame, target: str, drivers: list[str], message: str) -> None:
    with pytest.raises(SnrInputError, match=message):
        prepare(frame, target, drivers)


def test_text_column_is_refused(frame: pd.DataFrame) -> None:
    with pytest.raises(SnrInputError, match="numeric"):
        prepare(frame.assign(c="x"), "y", list("abc"))
