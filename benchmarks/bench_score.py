"""Benchmark: ``snr score``'s streaming engine vs bare ``predict_proba``; retrain duration.

Set-up (timed: the retrain duration): a simulated world (3,000 clients, 15 months) is
retrained with ``experiments/churn.yaml``'s model settings into a throw-away MLflow store,
with ``model: boost`` unless ``--model`` says otherwise (the configuration's ``model: auto``
may choose a linear model on this small world), so the champion is the boosting model (200
trees) whose reasons are exact TreeSHAP. Its as-of
features are then tiled to N clients (fresh client ids; numeric features jittered by a
random factor in [0.8, 1.2] so that rows differ) and written to a Parquet file.

Measured in the same run, each in its own child process so that peak memory (max RSS) is
its own (``VmHWM``):

- ``baseline``: read the whole features file into memory and call the model's
  ``predict_proba`` once (the bare model, no output); ``baseline-chunked``: the same per
  Parquet row group (100,000 clients), for sizes that do not fit in memory (10 million
  clients need about 40 GB as one frame);
- ``score``: :func:`snr_models.jobs.score.score_chunks` + ``write_scored`` over the same
  file in chunks of 100,000 clients: probability, risk decile, expected months to exit,
  three reasons (exact TreeSHAP), model version, written atomically;
- ``score --no-reasons``: the same without reasons;
- ``spark`` and ``spark-no-reasons``: the Spark engine (``snr score --engine spark``,
  :func:`snr_models.jobs.score_spark.score_features_spark`) over the same file on
  ``--spark-master`` (default ``local[2]``), Arrow batches of 100,000 clients; the time
  includes starting the Spark session (also shown apart) and the Python workers' imports.

Printed: seconds, clients per second, the ratio to the baseline, and peak RSS. For the Spark
modes the peak RSS is the Python driver's; the Spark JVM (a child of the driver) and its
Python workers are sampled every 0.2 s and their peaks shown apart.

Usage::

    .venv/bin/python benchmarks/bench_score.py --clients 1000000
    .venv/bin/python benchmarks/bench_score.py --clients 10000000 \\
        --modes baseline-chunked,score-no-reasons
    .venv/bin/python benchmarks/bench_score.py --clients 200000 \\
        --modes baseline,score-no-reasons,spark-no-reasons,score,spark
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]


def setup(workdir: Path, model: str = "boost") -> tuple[str, Path, float]:
    """Retrain a ``model`` champion into a store under ``workdir``; return (uri, world, seconds)."""
    from snr_models.jobs.churn import ChurnConfig
    from snr_models.jobs.retrain import retrain
    from snr_models.simulate import simulate, write_simulation

    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{workdir / 'mlflow.db'}"
    os.environ["SNR_ARTIFACT_ROOT"] = str(workdir / "mlruns")
    world = write_simulation(
        simulate(n_clients=3000, n_branches=4, n_months=15, seed=11, truth=False),
        workdir / "world",
    )
    cfg = ChurnConfig.from_yaml(ROOT / "experiments" / "churn.yaml")
    loose = {
        "lock": str(workdir / "retrain.lock"),
        "summary": str(workdir / "summary.json"),
        "floors": {"min_auc": 0.0, "calibration_slope": [-100, 100], "min_empc": -1e9},
    }
    cfg = ChurnConfig.model_validate(cfg.model_dump() | {"model": model, "retrain": loose})
    start = time.perf_counter()
    result = retrain(cfg, data=world)
    seconds = time.perf_counter() - start
    assert result.status == "promoted", result.summary
    return "models:/snr-churn@champion", world, seconds


def tile_features(world: Path, n: int, path: Path, as_of: str = "2024-03") -> None:
    """The world's as-of features tiled to ``n`` clients, written in row groups."""
    from snr_models.features import CATEGORICAL_FEATURES, build_features

    base = build_features(world, as_of=as_of)
    rng = np.random.default_rng(0)
    numeric = [
        c
        for c in base.columns
        if c not in ("client_id", "branch_id", "as_of", *CATEGORICAL_FEATURES)
        and not c.startswith("exposure_")
        and c not in ("index_return", "market_return_3m", "volatility")
    ]
    writer = None
    block = 500_000
    for start in range(0, n, block):
        size = min(block, n - start)
        idx = rng.integers(0, len(base), size)
        part = base.iloc[idx].reset_index(drop=True)
        jitter = rng.uniform(0.8, 1.2, (size, len(numeric)))
        part[numeric] = part[numeric].to_numpy() * jitter
        part["client_id"] = [f"T{start + i:09d}" for i in range(size)]
        table = pa.Table.from_pandas(part, preserve_index=False)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=100_000)
    writer.close()


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM), in MB.

    Not ``getrusage``'s ``ru_maxrss``: on Linux it survives ``exec`` and would report the
    parent's peak (the benchmark's own tiling) for the child.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children() -> dict[int, list[int]]:
    """Each process's children, from ``/proc/*/stat``."""
    tree: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        ppid = int(text.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(stat.parent.name))
    return tree


class SparkMemory(threading.Thread):
    """Peak RSS of this process's child JVM and of that JVM's Python workers, sampled."""

    def __init__(self, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.jvm_mb = 0.0
        self.workers_mb = 0.0
        self.done = threading.Event()

    def run(self) -> None:  # noqa: D102
        me = os.getpid()
        while not self.done.wait(self.interval):
            tree = _children()
            jvm, workers = 0.0, 0.0
            for pid in tree.get(me, []):
                jvm += _rss_mb(pid)
                stack = list(tree.get(pid, []))
                while stack:
                    p = stack.pop()
                    workers += _rss_mb(p)
                    stack.extend(tree.get(p, []))
            self.jvm_mb = max(self.jvm_mb, jvm)
            self.workers_mb = max(self.workers_mb, workers)

    def stop(self) -> None:
        """Stop sampling."""
        self.done.set()
        self.join()


def spark_child(mode: str, loaded, features: Path, out: Path, master: str) -> dict:
    """The Spark engine over the features file, its session started and stopped here."""
    from snr_models.jobs.score_spark import score_features_spark
    from snr_models.jobs.spark import quiet_pandas_warnings, spark_session

    memory = SparkMemory()
    memory.start()
    start = time.perf_counter()
    local_dir = out.parent / f".{mode}-spark-local"
    local_dir.mkdir(exist_ok=True)
    with quiet_pandas_warnings(), spark_session(master, local_dir=local_dir):
        session = time.perf_counter() - start
        n = score_features_spark(
            loaded, features, out, master=master, chunk_size=100_000, reasons=mode == "spark"
        )
    seconds = time.perf_counter() - start
    memory.stop()
    return {
        "mode": mode,
        "n": n,
        "seconds": seconds,
        "peak_mb": peak_rss_mb(),
        "session_seconds": session,
        "jvm_mb": memory.jvm_mb,
        "workers_mb": memory.workers_mb,
    }


def child(mode: str, uri: str, features: Path, out: Path, master: str = "local[2]") -> dict:
    """Run one measurement in this (child) process; return seconds and peak RSS (MB)."""
    import pandas as pd

    from snr_models.jobs.score import score_chunks, write_scored
    from snr_models.tracking.models import load_registered_model

    warnings.simplefilter("ignore")
    loaded = load_registered_model(uri)
    if mode.startswith("spark"):
        return spark_child(mode, loaded, features, out, master)
    start = time.perf_counter()
    cols = [str(c) for c in loaded.estimator.feature_names_in_]
    if mode == "baseline":
        frame = pd.read_parquet(features)
        p = loaded.estimator.predict_proba(frame[cols])[:, 1]
        n = len(p)
    elif mode == "baseline-chunked":
        handle = pq.ParquetFile(features)
        n = 0
        for group in range(handle.num_row_groups):
            frame = handle.read_row_group(group).to_pandas()
            n += len(loaded.estimator.predict_proba(frame[cols])[:, 1])
    else:
        reasons = mode == "score"
        n = write_scored(score_chunks(loaded, features, 100_000, reasons), out)
    seconds = time.perf_counter() - start
    peak = peak_rss_mb()
    return {"mode": mode, "n": n, "seconds": seconds, "peak_mb": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1_000_000)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--modes", default="baseline,score-no-reasons,score")
    parser.add_argument("--spark-master", default="local[2]")
    parser.add_argument("--model", default="boost", choices=["boost", "logit", "hazard", "auto"])
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, uri, features, out = args.child
        print(json.dumps(child(mode, uri, Path(features), Path(out), args.spark_master)))
        return
    with tempfile.TemporaryDirectory(prefix="bench-score-") as tmp:
        work = Path(tmp)
        uri, world, retrain_seconds = setup(work, args.model)
        print(f"retrain (3,000 clients, 15 months, model: {args.model}): {retrain_seconds:.1f} s")
        features = work / "features.parquet"
        t = time.perf_counter()
        tile_features(world, args.clients, features)
        print(f"features for {args.clients:,} clients written in {time.perf_counter() - t:.1f} s")
        env = dict(os.environ)
        results = {}
        modes = [m for m in args.modes.split(",") if not (args.skip_baseline and m == "baseline")]
        for mode in modes:
            cmd = [sys.executable, __file__, "--spark-master", args.spark_master]
            cmd += ["--child", mode, uri, str(features)]
            done = subprocess.run(
                [*cmd, str(work / f"{mode}.parquet")],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            results[mode] = json.loads(done.stdout.strip().splitlines()[-1])
        base = results.get("baseline") or results.get("baseline-chunked")
        for mode, r in results.items():
            rate = r["n"] / r["seconds"]
            ratio = f"  {r['seconds'] / base['seconds']:.1f}x baseline" if base else ""
            spark = (
                f"  (session start {r['session_seconds']:.1f} s; Spark JVM peak "
                f"{r['jvm_mb']:,.0f} MB, Python workers peak {r['workers_mb']:,.0f} MB)"
                if "jvm_mb" in r
                else ""
            )
            print(
                f"{mode:17s} {r['n']:>11,} clients  {r['seconds']:8.1f} s  {rate:>10,.0f}/s"
                f"  peak {r['peak_mb']:,.0f} MB{ratio}{spark}"
            )


if __name__ == "__main__":
    main()
