"""Logs when stdout is not a terminal (CI, `make run`'s log): no progress-bar redraws, one line per step."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sweetviz

from diabetes_risk_model.training.data import load_data, rename_columns
from diabetes_risk_model.training.pipeline import readable_table
from diabetes_risk_model.training.profile import profile_data


@pytest.fixture(scope="module")
def small(diabetes_csv: Path) -> pd.DataFrame:
    return rename_columns(load_data(diabetes_csv)).sample(300, random_state=1)


def test_sweetviz_is_one_line_per_step_when_not_a_terminal(
    small: pd.DataFrame, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    before = sweetviz.config_parser["General"]["default_verbosity"]
    profile_data(small, tmp_path / "report.html")  # pytest's captured stdout is not a TTY
    out, err = capfd.readouterr()
    assert "\r" not in out + err
    assert [line.split(":")[0] for line in out.splitlines()] == ["sweetviz"] * 3, out
    assert err == ""
    assert (tmp_path / "report.html").stat().st_size > 10_000
    assert sweetviz.config_parser["General"]["default_verbosity"] == before  # restored


def test_sweetviz_keeps_its_bar_at_a_terminal(
    small: pd.DataFrame, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The other branch, so the check above can fail: sweetviz's bar is carriage-return redraws."""
    profile_data(small, tmp_path / "report.html", progress=True)
    out, err = capfd.readouterr()
    assert (out + err).count("\r") > 5 and "sweetviz:" not in out


def test_readable_table_collapses_and_shortens_text_cells() -> None:
    table = pd.DataFrame({"Description": ["Estimator", "Folds", "Flag"],
                          "Value": ["LGBMClassifier(a=1,\n               b=2)" + "x" * 100, 3, True]})  # fmt: skip
    narrow = readable_table(table, max_width=40)
    assert narrow.at[0, "Value"].startswith("LGBMClassifier(a=1, b=2)") and len(narrow.at[0, "Value"]) == 40
    assert narrow.at[1, "Value"] == 3 and narrow.at[2, "Value"] is True
    assert len(narrow.to_string().splitlines()) == 4  # a header and one line per row
