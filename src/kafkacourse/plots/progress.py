"""A progress bar for experiment cells that run longer than a few seconds.

``kc.progress`` is `tqdm.auto.tqdm` with the course's defaults: a widget bar in JupyterLab (updated through
the widget, so an executed notebook stores one output, not one line per update), a text bar elsewhere, and
at most two redraws a second.

>>> for rate in kc.progress([100, 1_000, 10_000], desc="producer sweep"):
...     run_at(rate)
>>> with kc.progress(total=30, desc="records", unit="rec") as bar:
...     bar.update(1)
"""

from __future__ import annotations

from typing import Iterable, TypeVar

T = TypeVar("T")


def progress(iterable: Iterable[T] | None = None, *, total: float | None = None, desc: str | None = None,
             unit: str = "it", mininterval: float = 0.5, **options):
    """A tqdm.auto bar over `iterable` (or, without one, to `update()` by hand); `options` go to tqdm."""
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, mininterval=mininterval, leave=True, **options)
