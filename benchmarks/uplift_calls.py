"""Who to call: exits prevented per 1,000 calls, by uplift versus by risk, on simulated worlds.

For each seed: simulate a world with monthly retention campaigns (random 10-20% holdout),
join each targeted client to its features on the eve of its campaign, fit each uplift learner
on the earlier campaigns and judge it on the last four (out of time). The risk ranking is the
churn model (``ChurnLogit``) fitted on every client-month labelled before the test campaigns.
For a share of the targeted clients called, it prints the *true* exits prevented per 1,000
calls (the mean of ``truth.json``'s uplift over the called clients) and the experiment's
estimate (holdout minus called exit rate) with its 95% interval; then the Qini coefficient
and the AUUC with their bootstrap intervals, and the campaigns' average effect.

Usage::

    .venv/bin/python benchmarks/uplift_calls.py [--seeds 1 2 3] [--clients 20000]
        [--months 30] [--share 0.3]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

from snr_models.churn import ChurnLogit
from snr_models.churn.uplift import (
    DRUplift,
    TwoModelUplift,
    XLearnerUplift,
    assignment_propensity,
    attach_true_uplift,
    evaluate_uplift,
    join_outreach,
    out_of_time_split,
)
from snr_models.features import build_features, feature_columns
from snr_models.simulate import simulate

LEARNERS = {"two_model": TwoModelUplift, "x_learner": XLearnerUplift, "dr_learner": DRUplift}


def one_world(seed: int, n_clients: int, n_months: int, share: float) -> pd.DataFrame:
    result = simulate(
        n_clients=n_clients,
        n_branches=8,
        n_months=n_months,
        seed=seed,
        truth=False,
        campaigns={"enabled": True},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        features = build_features(result.tables, horizon=3)
    rows, _ = join_outreach(features, result.tables.outreach)
    rows = attach_true_uplift(rows, pd.DataFrame(result.truth["outreach"]["clients"]))
    train, test = out_of_time_split(rows, n_test=4)
    cols = feature_columns(features)
    cut = test["as_of"].min() - pd.offsets.MonthBegin(3)
    history = features[(features["as_of"] <= cut) & features["churn"].notna()]
    risk = ChurnLogit(C=0.1).fit(history[cols], history["churn"]).predict_proba(test[cols])[:, 1]
    e = assignment_propensity(train["_treatment"], train["_campaign_id"])
    out = []
    for name, learner in LEARNERS.items():
        t0 = time.perf_counter()
        model = learner().fit(train[cols], train["churn"], train["_treatment"], propensity=e)
        u = model.predict(test[cols])
        ev = evaluate_uplift(
            test["churn"],
            u,
            test["_treatment"],
            risk=risk,
            true_uplift=test["uplift"],
            shares=(share,),
        )
        calls = ev.calls.set_index("ranking")
        metrics = ev.metrics
        for ranking in ("uplift", "risk") if name == "two_model" else ("uplift",):
            row = calls.loc[ranking]
            out.append(
                {
                    "seed": seed,
                    "ranking": ranking if ranking == "risk" else f"uplift ({name})",
                    "true_per_1000": row["truth"],
                    "estimate_per_1000": row["estimate"],
                    "lo": row["lo"],
                    "hi": row["hi"],
                    "qini": metrics.loc["qini", "estimate"] if ranking == "uplift" else np.nan,
                    "qini_lo": metrics.loc["qini", "lo"] if ranking == "uplift" else np.nan,
                    "qini_hi": metrics.loc["qini", "hi"] if ranking == "uplift" else np.nan,
                    "auuc": metrics.loc["auuc", "estimate"] if ranking == "uplift" else np.nan,
                    "average_effect": metrics.loc["average_effect", "estimate"],
                    "average_effect_lo": metrics.loc["average_effect", "lo"],
                    "average_effect_hi": metrics.loc["average_effect", "hi"],
                    "true_average_effect": metrics.loc["average_effect", "truth"],
                    "fit_s": time.perf_counter() - t0 if ranking == "uplift" else np.nan,
                    "calls": int(row["calls"]),
                }
            )
    return pd.DataFrame(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--clients", type=int, default=20_000)
    parser.add_argument("--months", type=int, default=30)
    parser.add_argument("--share", type=float, default=0.3)
    args = parser.parse_args()
    frames = [one_world(s, args.clients, args.months, args.share) for s in args.seeds]
    table = pd.concat(frames, ignore_index=True)
    pd.set_option("display.width", 200)
    print(
        f"Calling {args.share:.0%} of each test campaign's targeted clients ({args.clients:,} "
        f"clients, {args.months} months, seeds {args.seeds}):"
    )
    print(table.round(4).to_string(index=False))
    print("\nMean over seeds of the true exits prevented per 1,000 calls:")
    print(table.groupby("ranking")["true_per_1000"].agg(["mean", "min", "max"]).round(1))


if __name__ == "__main__":
    main()
