"""The experiment's rows: each targeted client's features on the eve of its campaign.

A client of the ``outreach`` table, contacted (or held out) in month ``m``, is described by
its point-in-time features as of month ``m - 1`` (the data the campaign was planned on; the
features never see the call) and labelled by the churn label of that row (an exit in months
``m .. m + H - 1``). Outreach rows without such a feature row (the client was not open at the
end of month ``m - 1``) are set aside with the reason, never silently dropped.
"""

from __future__ import annotations

import logging

import pandas as pd

from snr_models.errors import SnrInputError

__all__ = ["OUTREACH_COLUMNS", "join_outreach", "out_of_time_split"]

logger = logging.getLogger(__name__)

#: Columns :func:`join_outreach` adds to the feature rows (underscored: never model inputs).
OUTREACH_COLUMNS: tuple[str, ...] = ("_campaign_id", "_contacted_at", "_channel", "_treatment")


def join_outreach(
    features: pd.DataFrame, outreach: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Join each outreach row to the client's features on the month before the contact.

    Parameters
    ----------
    features : DataFrame
        :func:`~snr_models.features.build_features` output covering the months before the
        campaigns (with ``horizon=`` for the churn label).
    outreach : DataFrame
        The contract's ``outreach`` table.

    Returns
    -------
    rows : DataFrame
        One row per matched outreach row: the feature row plus ``_campaign_id``,
        ``_contacted_at``, ``_channel`` and ``_treatment`` (1 called, 0 holdout), sorted by
        contact time then client.
    set_aside : DataFrame
        The outreach rows without a feature row, with a ``reason``.

    Examples
    --------
    >>> f = pd.DataFrame({"client_id": ["a", "b"], "as_of": pd.to_datetime(["2024-01-01"] * 2),
    ...                   "x": [1.0, 2.0]})
    >>> o = pd.DataFrame({"campaign_id": ["c1", "c1", "c1"], "client_id": ["a", "b", "z"],
    ...                   "contacted_at": pd.to_datetime(["2024-02-03"] * 3),
    ...                   "channel": ["phone"] * 3,
    ...                   "assigned": ["treatment", "holdout", "holdout"]})
    >>> rows, aside = join_outreach(f, o)
    >>> rows["_treatment"].tolist(), aside["reason"].tolist()
    ([1, 0], ['no features for the client at the month before the contact'])
    """
    missing = [
        c
        for c in ("campaign_id", "client_id", "contacted_at", "channel", "assigned")
        if c not in outreach.columns
    ]
    if missing:
        raise SnrInputError(f"outreach: missing column(s) {', '.join(missing)}")
    contacts = pd.DataFrame(
        {
            "client_id": outreach["client_id"].astype("str").to_numpy(),
            "as_of": (
                pd.to_datetime(outreach["contacted_at"]).dt.to_period("M").dt.to_timestamp()
                - pd.offsets.MonthBegin(1)
            )
            .astype("datetime64[us]")
            .to_numpy(),
            "_campaign_id": outreach["campaign_id"].astype("str").to_numpy(),
            "_contacted_at": pd.to_datetime(outreach["contacted_at"]).to_numpy(),
            "_channel": outreach["channel"].astype("str").to_numpy(),
            "_treatment": (outreach["assigned"] == "treatment").astype(int).to_numpy(),
        }
    )
    keys = features[["client_id", "as_of"]].astype({"as_of": "datetime64[us]"})
    matched = contacts.merge(keys.assign(_found=True), on=["client_id", "as_of"], how="left")
    found = matched["_found"].eq(True).to_numpy()
    set_aside = outreach.loc[~found].assign(
        reason="no features for the client at the month before the contact"
    )
    if len(set_aside):
        logger.warning(
            "outreach: %d of %d row(s) set aside: no features for the client at the month "
            "before the contact",
            len(set_aside),
            len(outreach),
        )
    frame = features.astype({"as_of": "datetime64[us]"}).merge(
        contacts.loc[found], on=["client_id", "as_of"], how="inner"
    )
    frame = frame.sort_values(["_contacted_at", "client_id"], kind="stable")
    return frame.reset_index(drop=True), set_aside.reset_index(drop=True)


def attach_true_uplift(rows: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """``rows`` (from :func:`join_outreach`) with each contact's true ``uplift`` column.

    ``truth`` holds ``campaign_id``, ``client_id``, ``uplift`` (a simulation's
    ``truth.json["outreach"]["clients"]``); a row without a true value gets NaN.
    """
    true = truth.rename(columns={"campaign_id": "_campaign_id"})
    return rows.merge(
        true[["_campaign_id", "client_id", "uplift"]], on=["_campaign_id", "client_id"], how="left"
    )


def out_of_time_split(
    rows: pd.DataFrame, n_test: int = 3, *, label: str = "churn"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The labelled rows of the last ``n_test`` campaigns (test) and of those before (train).

    Campaigns are ordered by their first contact; a campaign whose rows lack the label (too
    recent for the horizon) is neither. A train campaign's label window may overlap the test
    campaigns' months (as in any rolling-origin split); the rows never do.

    Examples
    --------
    >>> r = pd.DataFrame({"_campaign_id": list("aabbcc"), "churn": [0, 1, 0, 1, None, None],
    ...                   "_contacted_at": pd.to_datetime(["2024-01-02"] * 2 + ["2024-02-02"] * 2
    ...                                                   + ["2024-03-02"] * 2)})
    >>> train, test = out_of_time_split(r, n_test=1)
    >>> sorted(set(train["_campaign_id"])), sorted(set(test["_campaign_id"]))
    (['a'], ['b'])
    """
    labelled = rows[rows[label].notna()]
    n_unlabelled = len(rows) - len(labelled)
    if n_unlabelled:
        logger.info("uplift: %d row(s) without an observed label left out", n_unlabelled)
    order = labelled.groupby("_campaign_id")["_contacted_at"].min().sort_values().index
    if len(order) <= n_test:
        raise SnrInputError(
            f"outreach: {len(order)} labelled campaign(s); need more than n_test={n_test} "
            "to train on earlier ones and test on the later"
        )
    test_ids = set(order[-n_test:])
    in_test = labelled["_campaign_id"].isin(test_ids)
    return labelled[~in_test].copy(), labelled[in_test].copy()
