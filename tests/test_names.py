"""diabetes_risk_model.names: the one validator for member, resource and object names."""

from __future__ import annotations

import pytest

from diabetes_risk_model.errors import StorageError, UnsafeArchive, UnsafeResourceName
from diabetes_risk_model.names import check_name

SAFE_NAMES = ["plots/Confusion Matrix.png", "plots/AUC.png", "data_report.html", "a", "x/y/z_1-2.json", "_x"]
ALWAYS_REFUSED = ["", "/abs", "../x", "a/../b", "a//b", "a/", "./a", "a\\b", "a\x00b", "a\nb", "a\x7fb", "x" * 201]


@pytest.mark.parametrize("name", SAFE_NAMES)
def test_safe_member_names_are_accepted(name: str) -> None:
    check_name(name)


@pytest.mark.parametrize("name", ["a.", "a ", "plots/x.png ", "a/ b", "..", ".", "a/.", "-x", ".hidden", "é.png"])
def test_names_with_ambiguous_ends_or_outside_ascii_are_refused_in_packages(name: str) -> None:
    with pytest.raises(UnsafeArchive):
        check_name(name)


@pytest.mark.parametrize("name", ALWAYS_REFUSED)
@pytest.mark.parametrize("portable", [True, False])
def test_unsafe_names_are_refused_and_never_echoed(name: str, portable: bool) -> None:
    with pytest.raises(UnsafeResourceName) as info:
        check_name(name, portable=portable, error=UnsafeResourceName)
    assert not name or name not in str(info.value)


@pytest.mark.parametrize("name", [".hidden", "é.png", "a.", "weights (1).bin", "-x"])
def test_other_tools_file_names_pass_when_not_portable(name: str) -> None:
    check_name(name, portable=False)


def test_the_length_cap_and_the_error_type_are_the_callers() -> None:
    check_name("x" * 1024, max_length=1024, portable=False)
    with pytest.raises(StorageError):
        check_name("x" * 1025, max_length=1024, portable=False, error=StorageError)
