"""Real pipelines and real signed packages for the tests, and the ways the tests tamper with them.

:func:`train_pipeline_on` trains the smoke setup (the original design's flags, ``gbc``) on a sample of the real
CSV in which only the given features vary (every other column is held at its median), so that feature
selection keeps exactly those: the pipeline every load in the tests unpickles is what production unpickles.
"""

from __future__ import annotations

import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import diabetes_risk_model
from diabetes_risk_model.signing import Keyring, build_package

MODEL_NAME = "diabetes_risk_model"
PARAMETERS_VERSION = "2026_11_22"
OBJECT_NAME = f"{MODEL_NAME}-{diabetes_risk_model.__version__}-{PARAMETERS_VERSION}.zip"
BUCKET = "model-files"
CLASS_PATH = "diabetes_risk_model.prediction.model.DiabetesRiskModel"
PACKAGE_SEQUENCE = 10


def train_pipeline_on(csv: Path, varying: tuple[str, ...], rows: int = 2000, seed: int = 42) -> Any:
    """The smoke training (fast parameters, ``gbc``) on a sample where only the *varying* features vary."""
    from dataclasses import replace

    from diabetes_risk_model.training.data import load_data, rename_columns, stratified_sample
    from diabetes_risk_model.training.params import FAST, TARGET
    from diabetes_risk_model.training.pipeline import setup_experiment

    params = replace(FAST, sample_rows=rows, n_jobs=1, session_id=seed)
    frame = stratified_sample(rename_columns(load_data(csv)), rows, seed).copy()
    for column in frame.columns:
        if column not in varying and column != TARGET:
            frame[column] = float(frame[column].median())
    experiment = setup_experiment(frame, params, log_path=None).model
    model = experiment.create_model(params.model_id, cross_validation=False, verbose=False)
    return experiment.finalize_model(model)


def selected_features(pipeline: Any) -> list[str]:
    return [str(name) for name in pipeline.steps[-1][1].feature_names_in_]


@dataclass(frozen=True)
class Artifacts:
    """What the session builds once: the pipeline, its pickle, keys and signed packages."""

    pipeline: Any
    model_pickle: Path
    package: Path  # signed with the ECDSA P-256 key in ``keyring_file``, sequence 10
    keyring_file: Path  # public view only
    root: Path
    signing: Keyring  # the private keyring (the "leaked key" in attack tests)

    def package_with(self, directory: Path, *, sequence: int, model_pickle: Path | None = None) -> Path:
        """Another validly signed package for the same name and versions, with this *sequence*."""
        return signed_package(directory, model_pickle or self.model_pickle, self.signing, sequence=sequence)


def signed_package(directory: Path, model_pickle: Path, keyring: Keyring, *, sequence: int | None = None) -> Path:
    """The package of *model_pickle* alone, for this model's name and versions, signed with *keyring*."""
    return build_package(
        directory,
        name=MODEL_NAME,
        version=diabetes_risk_model.__version__,
        parameters_version=PARAMETERS_VERSION,
        model_pickle=model_pickle,
        extra_members={},
        keyring=keyring,
        sequence=sequence,
    )


class MarkerPayload:
    """Unpickling this creates a marker file: proof, if the file exists, that something was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.marker), "w"))


def tampered_copy(package: Path, destination: Path) -> Path:
    """The signed package with one byte changed in the middle of the file (inside the pickle member's data)."""
    data = bytearray(package.read_bytes())
    data[len(data) // 2] ^= 0x01
    destination.write_bytes(bytes(data))
    return destination


def replaced_pickle_copy(package: Path, destination: Path, marker: Path) -> Path:
    """The signed package with its pickle member replaced by one that would create *marker* if unpickled."""
    payload = pickle.dumps(MarkerPayload(marker))
    with zipfile.ZipFile(package) as source, zipfile.ZipFile(destination, "w") as target:
        replaced = False
        for info in source.infolist():
            data = source.read(info)
            if info.filename.endswith(".pkl"):
                data, replaced = payload, True
            target.writestr(info, data)
    assert replaced, "the package has no .pkl member to tamper with"
    return destination


def malicious_signed_package(directory: Path, marker: Path, keyring: Keyring) -> Path:
    """A package that is correctly signed but whose pickle would create *marker* (a poisoned training job)."""
    pickle_path = directory / "evil.pkl"
    directory.mkdir(parents=True, exist_ok=True)
    pickle_path.write_bytes(pickle.dumps(MarkerPayload(marker)))
    return signed_package(directory / "out", pickle_path, keyring)


def local_store(root: Path, package: Path, object_name: str = OBJECT_NAME) -> str:
    """A file:// store holding *package* in the standard bucket; returns its URL."""
    bucket = root / BUCKET
    bucket.mkdir(parents=True, exist_ok=True)
    (bucket / object_name).write_bytes(package.read_bytes())
    return root.resolve().as_uri()


def pin_environment(patch: pytest.MonkeyPatch, package: Path, sequence: int = 10) -> None:
    """The variables every shipped config reads to pin the package: its file digest and minimum sequence."""
    from diabetes_risk_model.files import sha256_file

    patch.setenv("MODEL_PACKAGE_SHA256", sha256_file(package))
    patch.setenv("MODEL_MIN_SEQUENCE", str(sequence))
