"""Benchmark: the churn model chosen on the backtest (``model: auto``) against each candidate.

A world the tests never use (``--seed 777``, the default world's size unless told), its
point-in-time features at a 3-month horizon, and the held-out horizon of ``snr retrain``: the
latest as-of month whose 3-month outcome is observed is the holdout; every model is trained
on the labelled months up to 3 months before it (no training outcome overlaps the holdout's;
``train_months`` of the configuration counted back from there).

Reported, from one run:

- the holdout ROC-AUC (and PR-AUC) of boosting, logistic and hazard models, each fitted as
  the churn job fits it (the configuration's settings);
- ``auto``: the model chosen on the rolling-origin backtest inside the training months, and
  its holdout AUC (the chosen candidate's: the same fit);
- the nested estimate: the AUC of "choose on the earlier origins, predict the next" on the
  backtest origins not used for each choice, i.e. what ``snr churn train`` reports;
- seconds for each candidate's backtest and the choice as a whole.

Usage::

    .venv/bin/python benchmarks/churn_model_choice.py                  # main job's settings
    .venv/bin/python benchmarks/churn_model_choice.py --settings churn # experiments/churn.yaml
    .venv/bin/python benchmarks/churn_model_choice.py --clients 5000 --months 24
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

from snr_models.churn.evaluation import pr_auc, roc_auc
from snr_models.features import build_features
from snr_models.jobs.churn_models import choose_model, fit_estimator, holdout_split, model_inputs
from snr_models.jobs.config import ChurnConfig, RunConfig
from snr_models.simulate import simulate

EXPERIMENTS = Path(__file__).parents[1] / "experiments"


def settings(which: str) -> ChurnConfig:
    """The churn configuration of the main job (``default.yaml``) or of ``churn.yaml``."""
    if which == "main":
        cfg = RunConfig.from_yaml(EXPERIMENTS / "default.yaml").churn.churn_config()
    else:
        cfg = ChurnConfig.from_yaml(EXPERIMENTS / "churn.yaml")
    backtest = cfg.backtest.model_copy(update={"importance": False})
    return cfg.model_copy(update={"model": "auto", "backtest": backtest, "register_model": False})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=777)
    parser.add_argument("--clients", type=int, default=50_000)
    parser.add_argument("--branches", type=int, default=40)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--settings", choices=["main", "churn"], default="main")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    print(f"load average at start {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

    t0 = time.perf_counter()
    world = simulate(
        n_clients=args.clients,
        n_branches=args.branches,
        n_months=args.months,
        seed=args.seed,
        truth=False,
    )
    config = settings(args.settings)
    frame = build_features(world.tables, horizon=config.horizon)
    train, holdout = holdout_split(frame, config)
    print(
        f"world seed {args.seed}: {args.clients:,} clients x {args.months} months "
        f"({time.perf_counter() - t0:.0f} s); settings '{args.settings}' "
        f"(train_months {config.train_months}, {config.backtest.n_origins} origins, "
        f"min_train_months {config.backtest.min_train_months})"
    )
    print(
        f"training months {train['as_of'].min():%Y-%m}..{train['as_of'].max():%Y-%m} "
        f"({len(train):,} rows); holdout {holdout['as_of'].min():%Y-%m} "
        f"({len(holdout):,} clients, exit rate {holdout['churn'].mean():.4f})"
    )

    y = holdout["churn"].to_numpy(dtype=float)
    inputs = model_inputs(train)
    held_out = {}
    for name in config.auto.candidates:
        t = time.perf_counter()
        model = fit_estimator(train, config, name)
        p = model.predict_proba(holdout[inputs])[:, 1]
        held_out[name] = (roc_auc(y, p), pr_auc(y, p), time.perf_counter() - t)

    t = time.perf_counter()
    choice = choose_model(train, config)
    choice_seconds = time.perf_counter() - t

    print()
    print("| model | holdout ROC-AUC | holdout PR-AUC | backtest score (mean per-origin AUC) |")
    print("|---|---|---|---|")
    for name, (auc, prauc, _) in held_out.items():
        score = choice.scores.loc[name, "score"]
        print(f"| {name} | {auc:.3f} | {prauc:.3f} | {score:.3f} |")
    auc, prauc, _ = held_out[choice.chosen]
    print(f"| auto (chose {choice.chosen}) | {auc:.3f} | {prauc:.3f} | — |")
    print()
    if choice.nested_metrics is not None:
        n = choice.nested_metrics
        picks = ", ".join(f"{r.origin:%Y-%m}: {r.chosen}" for r in choice.nested.itertuples())
        print(
            f"nested (origins not used for the choice; {picks}): ROC-AUC "
            f"{n.loc['roc_auc', 'value']:.3f} [{n.loc['roc_auc', 'lo']:.3f}, "
            f"{n.loc['roc_auc', 'hi']:.3f}]"
        )
    best = max(held_out, key=lambda k: held_out[k][0])
    print(f"best on the holdout: {best}; auto chose {choice.chosen}")
    fits = ", ".join(f"{k} {v[2]:.0f} s" for k, v in held_out.items())
    print(f"final fits: {fits}; the choice (every candidate's backtest): {choice_seconds:.0f} s")
    print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
