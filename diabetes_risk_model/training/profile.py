"""Step 3: profile the data with sweetviz into one self-contained ``data_report.html``.

sweetviz renders with matplotlib; headless callers (CLI, CI) get the Agg backend (``MPLBACKEND=Agg``, or
matplotlib's own fallback without a display). sweetviz is imported here, not at module import, because it
takes seconds to import and most users of this package never profile.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from diabetes_risk_model.training.params import TARGET

REPORT_NAME = "data_report.html"


def profile_data(frame: pd.DataFrame, output_path: Path, target: str = TARGET, pairwise: bool = False) -> Path:
    """Write the sweetviz report of *frame* (with *target* as the target feature) to *output_path*.

    Written to a temporary name and renamed, so a crash never leaves a half-written report behind.
    """
    import sweetviz

    output_path = Path(output_path)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    report = sweetviz.analyze(frame, target_feat=target, pairwise_analysis="on" if pairwise else "off")
    partial = output_path.with_name(output_path.name + ".partial.html")
    report.show_html(str(partial), open_browser=False, layout="vertical")
    partial.replace(output_path)
    return output_path
