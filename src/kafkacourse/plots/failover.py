"""The disaster-recovery lesson's chart: a failover's timeline, record by record."""

from __future__ import annotations

from collections.abc import Iterable

import matplotlib.pyplot as plt
import pandas as pd


def plot_failover(produced: pd.DataFrame, received: pd.DataFrame, killed_at: float, resumed_at: float | None,
                  lost: Iterable[int] = ()) -> plt.Figure:
    """Record id over time: when the primary acknowledged each record (`produced`: id, acked_s, error), when
    it was processed on the primary and on dr (`received`: id, site, at), the records lost (`lost` ids, at
    their ack time), the kill and the first record on dr; the span between them is the RTO.

    >>> plot_failover(stream.frame(), ledger.received, killed_at, dr_reader.first_at, report_lost_ids)
    """
    fig, ax = plt.subplots(figsize=(9, 4.2))
    acked = produced[produced["error"].isna() & produced["acked_s"].notna()]
    ax.scatter(acked["acked_s"], acked["id"], s=3, color="0.75", label="acked by the primary")
    colours = {"primary": "tab:blue", "dr": "tab:green"}
    for site, rows in received.groupby("site"):
        ax.scatter(rows["at"], rows["id"], s=3, color=colours.get(site, "tab:purple"), label=f"processed on {site}")
    seen_twice = received[received["site"] == "dr"]
    seen_twice = seen_twice[seen_twice["id"].isin(set(received.loc[received["site"] == "primary", "id"]))]
    if len(seen_twice):
        ax.scatter(seen_twice["at"], seen_twice["id"], s=6, color="tab:orange", label="processed again on dr")
    gone = acked[acked["id"].isin(set(lost))]
    if len(gone):
        ax.scatter(gone["acked_s"], gone["id"], s=30, marker="x", color="tab:red", label="lost (RPO)")
    ax.axvline(killed_at, color="tab:red", linestyle="--", linewidth=1)
    ax.text(killed_at, ax.get_ylim()[1], " primary SIGKILLed", color="tab:red", va="top", fontsize=8)
    if resumed_at is not None:
        ax.axvspan(killed_at, resumed_at, color="tab:red", alpha=0.08, label="RTO")
        ax.axvline(resumed_at, color="tab:green", linestyle="--", linewidth=1)
    ax.set_xlabel("seconds since the stream started")
    ax.set_ylabel("record id")
    ax.legend(loc="upper left", fontsize=8, markerscale=3, frameon=False)
    ax.set_title("Failover from the primary to dr", fontsize=10)
    fig.tight_layout()
    return fig
