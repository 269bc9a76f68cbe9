"""A line chart that a notebook feeds point by point, e.g. from a consumer loop.

Live in JupyterLab it redraws inside an ipywidgets Output at most every `refresh_s` seconds; executed
headless (nbval/CI set ``KAFKA_COURSE_HEADLESS=1``, or outside a kernel) it draws one static figure when
the loop ends. Either way ``finish()`` returns the data as a pandas DataFrame.

>>> chart = LiveChart("Records per second", xlabel="seconds", ylabel="records/s")
>>> for second, rate in enumerate(rates):
...     chart.add(second, produced=rate)
>>> frame = chart.finish()
"""

from __future__ import annotations

import os
import time
from collections import defaultdict

import matplotlib.pyplot as plt
import pandas as pd


def is_headless() -> bool:
    """True under nbval/CI (KAFKA_COURSE_HEADLESS=1) or outside a Jupyter kernel: no one watches a redraw."""
    if os.environ.get("KAFKA_COURSE_HEADLESS") == "1":
        return True
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        return True
    return shell is None or shell.__class__.__name__ != "ZMQInteractiveShell"


class LiveChart:
    """Lines named by keyword in add(); see the module docstring."""

    def __init__(self, title: str, xlabel: str = "", ylabel: str = "", refresh_s: float = 0.5,
                 kind: str = "line") -> None:
        self.title, self.xlabel, self.ylabel, self.kind = title, xlabel, ylabel, kind
        self.refresh_s = refresh_s
        self.points: dict[str, list[tuple[float, float]]] = defaultdict(list)
        self.live = not is_headless()
        self._last_draw = 0.0
        self._output = None
        if self.live:
            import ipywidgets
            from IPython.display import display

            self._output = ipywidgets.Output()
            display(self._output)

    def add(self, x: float, **values: float) -> None:
        """Add one point to each named line (``chart.add(t, produced=10, consumed=8)``)."""
        for name, value in values.items():
            self.points[name].append((x, value))
        if self.live and time.monotonic() - self._last_draw >= self.refresh_s:
            self._redraw()

    def frame(self) -> pd.DataFrame:
        """The points so far: one column per line, indexed by x."""
        series = {name: pd.Series(dict(pts)) for name, pts in self.points.items()}
        return pd.DataFrame(series).sort_index()

    def figure(self) -> plt.Figure:
        fig, ax = plt.subplots(figsize=(8, 3.5))
        data = self.frame()
        if not data.empty:
            if self.kind == "step":
                for column in data:
                    ax.step(data.index, data[column], where="post", label=column)
            else:
                data.plot(ax=ax, marker="." if len(data) < 60 else None)
        ax.set_title(self.title)
        ax.set_xlabel(self.xlabel)
        ax.set_ylabel(self.ylabel)
        if len(self.points) > 1 or self.kind == "step":
            ax.legend(loc="best")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        return fig

    def _redraw(self) -> None:
        from IPython.display import display

        assert self._output is not None
        fig = self.figure()
        with self._output:
            self._output.clear_output(wait=True)
            display(fig)
        plt.close(fig)
        self._last_draw = time.monotonic()

    def finish(self) -> pd.DataFrame:
        """Draw the final chart (live: in place; headless: as a static figure) and return the data."""
        if self.live:
            self._redraw()
        else:
            fig = self.figure()
            try:
                from IPython.display import display

                display(fig)
            except ImportError:
                pass
            plt.close(fig)
        return self.frame()
