"""Step 6b: the signed package ``diabetes_risk_model-<version>-<YYYY_MM_DD>.zip``.

Members, exactly: ``model.pkl``, ``data_report.html``, the six plots under ``plots/``, ``metrics.json`` (each
listed with its digest in the signed statement), and the signature ``model.sig`` itself (the ``oms-v1`` format
:func:`diabetes_risk_model.signing.build_package` writes). Unlike the original design's
zip there is no unsigned pickle beside a signed one and nothing else (no ``.DS_Store``): the members are
named one by one here, never collected by globbing a directory.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from diabetes_risk_model import __version__
from diabetes_risk_model.errors import ConfigurationError
from diabetes_risk_model.signing.package import MODEL_MEMBER, SIGNATURE_NAME
from diabetes_risk_model.training.metrics import METRICS_NAME
from diabetes_risk_model.training.pipeline import PLOT_FILES
from diabetes_risk_model.training.profile import REPORT_NAME

PACKAGE_NAME = "diabetes_risk_model"
#: The pickled pipeline in a run's artifacts directory, named as the package member it becomes.
MODEL_NAME = MODEL_MEMBER


def parameters_version_for(when: datetime | None = None) -> str:
    """Today's UTC date as ``YYYY_MM_DD`` (the original design's ``model_parameters_version`` format)."""
    return (when or datetime.now(UTC)).astimezone(UTC).strftime("%Y_%m_%d")


def package_file_name(version: str = __version__, parameters_version: str | None = None) -> str:
    """``diabetes_risk_model-<version>-<parameters_version>.zip``; also the object name in the store.

    The name itself is defined once, by :func:`diabetes_risk_model.signing.package_file_name`; this
    only fills in training's defaults (this package's version, today's UTC date).
    """
    from diabetes_risk_model.signing import package_file_name as signed_package_file_name

    return signed_package_file_name(PACKAGE_NAME, version, parameters_version or parameters_version_for())


def expected_members(plots: tuple[str, ...] = tuple(PLOT_FILES)) -> list[str]:
    """The exact, sorted member list of a package built by :func:`package_model`."""
    return sorted([MODEL_MEMBER, SIGNATURE_NAME, REPORT_NAME, METRICS_NAME, *(PLOT_FILES[plot] for plot in plots)])


def extra_members(artifacts_dir: Path, plots: tuple[str, ...] = tuple(PLOT_FILES)) -> dict[str, Path]:
    """Member name -> file for everything but the model, from a run's artifacts directory (all must exist)."""
    artifacts_dir = Path(artifacts_dir)
    members = {REPORT_NAME: artifacts_dir / REPORT_NAME, METRICS_NAME: artifacts_dir / METRICS_NAME}
    members.update({PLOT_FILES[plot]: artifacts_dir / PLOT_FILES[plot] for plot in plots})
    missing = sorted(name for name, path in members.items() if not path.is_file())
    if missing:
        raise ConfigurationError(f"{artifacts_dir} lacks package members: " + ", ".join(missing), missing=missing)
    return members


def package_model(
    artifacts_dir: Path,
    output_dir: Path,
    *,
    keyring: object | None = None,
    version: str = __version__,
    parameters_version: str | None = None,
    plots: tuple[str, ...] = tuple(PLOT_FILES),
) -> Path:
    """Sign and write the package from *artifacts_dir* (``model.pkl``, report, plots, metrics) into *output_dir*.

    *keyring* defaults to ``Keyring.from_env()`` (``MODEL_KEYRING`` and/or ``PARAMETERS_SIGNING_KEY``).
    """
    from diabetes_risk_model.signing import Keyring, build_package

    ring = Keyring.from_env() if keyring is None else keyring
    if not isinstance(ring, Keyring):
        raise ConfigurationError("keyring must be a diabetes_risk_model.signing.Keyring")
    model_pickle = Path(artifacts_dir) / MODEL_NAME
    if not model_pickle.is_file():
        raise ConfigurationError(f"{artifacts_dir} has no {MODEL_NAME}; train first", missing=[MODEL_NAME])
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    return build_package(
        Path(output_dir),
        name=PACKAGE_NAME,
        version=version,
        parameters_version=parameters_version or parameters_version_for(),
        model_pickle=model_pickle,
        extra_members=extra_members(artifacts_dir, plots),
        keyring=ring,
    )
