"""Step 3: profile the data with sweetviz into one self-contained ``data_report.html``.

sweetviz renders with matplotlib; headless callers (CLI, CI) get the Agg backend (``MPLBACKEND=Agg``, or
matplotlib's own fallback without a display). sweetviz is imported here, not at module import, because it
takes seconds to import and most users of this package never profile.

At a terminal sweetviz draws its progress bar. Anywhere else (CI, ``make run``'s log, a pipe) the bar would be
hundreds of carriage-return redraws on one line, so sweetviz is told to be silent through its documented
configuration (``sweetviz.config_parser``, ``[General] default_verbosity = off``) and this module prints one
line per step instead.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from diabetes_risk_model.training.params import TARGET

REPORT_NAME = "data_report.html"


def stdout_is_terminal() -> bool:
    """True when progress bars can redraw in place (stdout is a TTY)."""
    isatty = getattr(sys.stdout, "isatty", None)
    return bool(isatty and isatty())


@contextmanager
def _sweetviz_verbosity(sweetviz: Any, level: str) -> Iterator[None]:
    """Set sweetviz's default verbosity (its documented config_parser) for the block, then restore it."""
    general = sweetviz.config_parser["General"]
    previous = general["default_verbosity"]
    general["default_verbosity"] = level
    try:
        yield
    finally:
        general["default_verbosity"] = previous


def profile_data(
    frame: pd.DataFrame,
    output_path: Path,
    target: str = TARGET,
    pairwise: bool = False,
    progress: bool | None = None,
    say: Callable[[str], None] = print,
) -> Path:
    """Write the sweetviz report of *frame* (with *target* as the target feature) to *output_path*.

    *progress*: sweetviz's own progress bar (default: only when stdout is a terminal); without it, one line
    per step goes to *say*. Written to a temporary name and renamed, so a crash never leaves a half-written
    report behind.
    """
    import sweetviz

    output_path = Path(output_path)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    bar = stdout_is_terminal() if progress is None else progress
    partial = output_path.with_name(output_path.name + ".partial.html")
    started = time.perf_counter()
    with _sweetviz_verbosity(sweetviz, "full" if bar else "off"):
        if not bar:
            say(f"sweetviz: analysing {len(frame)} rows x {frame.shape[1]} columns (target {target})")
        report = sweetviz.analyze(frame, target_feat=target, pairwise_analysis="on" if pairwise else "off")
        if not bar:
            say(f"sweetviz: analysed in {time.perf_counter() - started:.1f} s; rendering the HTML report")
        report.show_html(str(partial), open_browser=False, layout="vertical")
    partial.replace(output_path)
    if not bar:
        say(f"sweetviz: wrote {output_path} in {time.perf_counter() - started:.1f} s")
    return output_path
