"""The compatibility matrix drawn: a change × mode table of the registry's verdicts, disagreements marked."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd


def plot_matrix(actual: pd.DataFrame, expected: pd.DataFrame | None = None,
                title: str = "Registry verdict per change and compatibility mode",
                labels: tuple[str, str] = ("accepted", "409")):
    """A coloured change × mode table: green = True (labelled ``labels[0]``), red = False (``labels[1]``).
    Where `expected` is given, a cell that disagrees with it gets a thick black border and a '≠ rules' note.
    Returns the figure."""
    rows, cols = actual.shape
    fig, ax = plt.subplots(figsize=(1.55 * cols + 3.2, 0.5 * rows + 1.3))
    for i, change in enumerate(actual.index):
        for j, mode in enumerate(actual.columns):
            ok = bool(actual.loc[change, mode])
            ax.add_patch(plt.Rectangle((j, i), 1, 1, facecolor="#8fd19e" if ok else "#f1948a", edgecolor="white"))
            label = labels[0] if ok else labels[1]
            if expected is not None and bool(expected.loc[change, mode]) != ok:
                ax.add_patch(plt.Rectangle((j + 0.04, i + 0.06), 0.92, 0.88, fill=False, edgecolor="black", lw=2.5))
                label += "\n≠ rules"
            ax.text(j + 0.5, i + 0.5, label, ha="center", va="center", fontsize=8)
    ax.set_xlim(0, cols)
    ax.set_ylim(rows, 0)
    ax.set_xticks([j + 0.5 for j in range(cols)], [m.replace("_", "_\n") for m in actual.columns], fontsize=8)
    ax.set_yticks([i + 0.5 for i in range(rows)], list(actual.index), fontsize=9)
    ax.tick_params(length=0)
    ax.xaxis.tick_top()
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_title(title, fontsize=10, pad=28)
    fig.tight_layout()
    return fig
