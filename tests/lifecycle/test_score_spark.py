"""``snr score --engine spark``: on ``local[2]``, the call list equals the local engine's
row for row (reasons included); bad input fails before Spark with exit 2 and harms no output;
a missing pyspark is a clear error, not a traceback.

pyspark is imported here at the top on purpose: it is in the ``test`` extra, and a missing
dependency must fail these tests, not skip them.
"""

from __future__ import annotations

import sys
import warnings

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyspark
import pytest

from snr_models.jobs.score import OUTPUT_COLUMNS, score
from snr_models.jobs.score_spark import score_spark
from snr_models.jobs.spark import quiet_pandas_warnings, spark_session
from tests.lifecycle.cli import run_snr

AS_OF = "2023-12"
URI = "models:/snr-churn@champion"


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    """One local[2] session for the module; ``score_spark`` uses it and leaves it running."""
    with (
        quiet_pandas_warnings(),
        spark_session("local[2]", local_dir=tmp_path_factory.mktemp("spark-local")) as session,
    ):
        yield session


@pytest.fixture(scope="module")
def local_calls(store, worlds, tmp_path_factory) -> tuple[pd.DataFrame, pa.Schema]:
    """The local engine's call list, sorted by client, and its Parquet schema."""
    out = tmp_path_factory.mktemp("local-calls") / "calls.parquet"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        score(URI, worlds["a"], AS_OF, out, chunk_size=500)
    return _read(out), pq.read_schema(out)


def _read(path) -> pd.DataFrame:
    return pd.read_parquet(path).sort_values("client_id", ignore_index=True)


def test_spark_engine(store, worlds, spark, local_calls, tmp_path, monkeypatch, capsys):
    """Every check that runs Spark, in one test: ``pytest -n 2`` would otherwise send them to
    both workers, each starting a JVM and Python workers that import the package (minutes on
    two shared cores)."""
    for name in ("api", "cli", "tampered"):
        (tmp_path / name).mkdir()
    check_api_equals_local(worlds, spark, local_calls, tmp_path / "api")
    check_cli(worlds, local_calls, tmp_path / "cli", monkeypatch, capsys)
    # last: a task that fails takes its Python worker with it
    check_executors_refuse_altered_bytes(worlds, tmp_path / "tampered")


def check_api_equals_local(worlds, spark, local_calls, folder) -> None:
    """``score_spark`` with reasons equals the local engine exactly."""
    expected, schema = local_calls
    out = folder / "calls.parquet"
    # a caller's session in another time zone: the job runs in UTC and restores the setting
    spark.conf.set("spark.sql.session.timeZone", "Asia/Shanghai")
    # small batches over two partitions: the deciles must still be cut over the whole run
    result = score_spark(URI, worlds["a"], AS_OF, out, chunk_size=300)
    assert spark.conf.get("spark.sql.session.timeZone") == "Asia/Shanghai"
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    assert result.n_clients == len(expected) and result.model_version == "1"
    assert spark.sparkContext.defaultParallelism == 2
    assert pq.read_schema(out) == schema
    got = _read(out)
    assert tuple(got.columns) == OUTPUT_COLUMNS
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert got["reason_1"].notna().mean() > 0.5  # reasons were computed, not left empty
    assert set(got["risk_decile"]) == set(range(1, 11))
    assert [p.name for p in folder.iterdir()] == ["calls.parquet"]  # no temporary left
    # a session the function did not start is left running
    assert pyspark.sql.SparkSession.getActiveSession() is spark


def check_cli(worlds, local_calls, folder, monkeypatch, capsys) -> None:
    """``snr score --engine spark`` writes the call list and exits 0."""
    out = folder / "calls.parquet"
    args = ["score", "--model", URI, "--data", worlds["a"], "--as-of", AS_OF, "--output", out]
    run = run_snr(
        [*args, "--engine", "spark", "--spark-master", "local[2]", "--no-reasons"],
        monkeypatch,
        capsys,
    )
    code, text = run.code, run.text
    assert code == 0, text
    expected, schema = local_calls
    assert f"{len(expected)} clients, model version 1" in text
    assert pq.read_schema(out) == schema
    got = _read(out)
    empty = [f"reason_{j}" for j in (1, 2, 3)]
    assert got[empty].isna().all().all()
    pd.testing.assert_frame_equal(
        got.drop(columns=empty), expected.drop(columns=empty), check_exact=True
    )


def check_executors_refuse_altered_bytes(worlds, folder) -> None:
    """Executors check the broadcast model bytes; the failed job harms no output."""
    from dataclasses import replace

    from snr_models.jobs.score import write_as_of_features
    from snr_models.jobs.score_spark import score_features_spark
    from snr_models.tracking.models import load_registered_model

    features = write_as_of_features(worlds["a"], pd.Timestamp(AS_OF), folder / "f.parquet")
    out = folder / "calls.parquet"
    out.write_bytes(b"the previous call list")
    loaded = load_registered_model(URI)
    altered = replace(loaded, skops=loaded.skops + b"\0")  # bytes altered after the check
    with pytest.raises(Exception, match="differ from the registry's record"):
        score_features_spark(altered, features, out, reasons=False)
    assert out.read_bytes() == b"the previous call list"
    assert sorted(p.name for p in folder.iterdir()) == ["calls.parquet", "f.parquet"]


def test_bad_input_exits_2_before_spark_and_harms_no_output(
    store, worlds, tmp_path, monkeypatch, capsys
):
    import snr_models.jobs.score_spark as engine

    def no_spark(*args, **kwargs):
        raise AssertionError("Spark must not start on bad input")

    monkeypatch.setattr(engine, "_run_spark", no_spark)
    out = tmp_path / "calls.parquet"
    out.write_bytes(b"the previous call list")
    base = ["score", "--model", URI, "--data", worlds["a"], "--output", out, "--engine", "spark"]

    # an as-of month outside the data
    run = run_snr([*base, "--as-of", "2031-01"], monkeypatch, capsys)
    code, text = run.code, run.text
    assert code == 2 and "outside the data" in text and "Traceback" not in text

    # features that do not match the model's signature (a column missing, one of a wrong type);
    # both engines write the features through jobs.score.scoring_inputs
    import snr_models.jobs.score as shared

    real = shared.write_as_of_features

    def drifted(*args, **kwargs):
        path = real(*args, **kwargs)
        frame = pd.read_parquet(path).drop(columns=["tenure_months"])
        frame.assign(latest_csat="high").to_parquet(path, index=False)
        return path

    monkeypatch.setattr(shared, "write_as_of_features", drifted)
    run = run_snr([*base, "--as-of", AS_OF], monkeypatch, capsys)
    code, text = run.code, run.text
    assert code == 2 and "signature" in text and "tenure_months" in text, text
    assert "Traceback" not in text

    # --spark-master without --engine spark
    local = [*base[:-2], "--as-of", AS_OF, "--spark-master", "local[2]"]
    run = run_snr(local, monkeypatch, capsys)
    code, text = run.code, run.text
    assert code == 2 and "--spark-master applies only to --engine spark" in text

    assert out.read_bytes() == b"the previous call list"
    assert [p.name for p in tmp_path.iterdir()] == ["calls.parquet"]


def test_missing_pyspark_is_a_clear_error(worlds, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pyspark", None)  # ``import pyspark`` now fails
    out = tmp_path / "calls.parquet"
    args = ["score", "--model", URI, "--data", worlds["a"], "--as-of", AS_OF, "--output", out]
    run = run_snr([*args, "--engine", "spark"], monkeypatch, capsys)
    code, text = run.code, run.text
    assert code == 2, text
    assert "pip install 'snr_models[spark]'" in " ".join(text.split())
    assert "Traceback" not in text and not out.exists()


def test_the_default_local_master_follows_the_threads_setting():
    """Spark's local task slots are the ``threads`` setting (one OpenMP/BLAS thread each)."""
    from snr_models import threads
    from snr_models.jobs.score_spark import local_master
    from snr_models.jobs.spark import DEFAULT_MASTER

    assert local_master() == DEFAULT_MASTER  # outside a threads limit: local[2]
    with threads.limit(3):
        assert local_master() == "local[3]"
    with threads.limit(1):
        assert local_master() == "local[1]"
