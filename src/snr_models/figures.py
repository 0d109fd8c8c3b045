"""New matplotlib figures that display inline in a notebook and hold no state elsewhere.

In a Jupyter kernel a figure is created through pyplot, so that the inline backend shows
every figure a cell made (even when ``plot()`` is not the cell's last line) and closes it
afterwards; elsewhere (scripts, jobs, tests) it is a bare :class:`~matplotlib.figure.Figure`
with no pyplot state and no backend chosen, so headless jobs never accumulate open figures.
Either way ``plot()`` returns the figure.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def in_notebook() -> bool:
    """True inside a Jupyter (ipykernel) kernel."""
    if "ipykernel" not in sys.modules:
        return False
    from IPython import get_ipython

    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def new_figure(**kwargs: Any) -> Figure:
    """A new figure (``Figure`` keyword arguments): pyplot-managed in a notebook only.

    Examples
    --------
    >>> new_figure(figsize=(4, 3)).get_size_inches().tolist()
    [4.0, 3.0]
    """
    if in_notebook():
        import matplotlib.pyplot as plt

        return plt.figure(**kwargs)
    from matplotlib.figure import Figure  # lazily: importing it costs 0.5 s

    return Figure(**kwargs)
