"""Find, load, validate and rename the training data (steps 1 and 2 of the notebook).

Where the CSV comes from, in order: an explicit path (``--data`` / the notebook's ``data_path``), then
``$DIABETES_DATA``, then the default ``data/diabetes_binary_5050split_health_indicators_BRFSS2015.csv``, and
only if none of those exist and Kaggle credentials are configured, a Kaggle download into ``data/``. A path
that was asked for explicitly and does not exist is an error, never a silent fallback to another file: the
person who named it would otherwise train on data they did not choose.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from diabetes_risk_model.errors import DataError, DataNotFound, SchemaMismatch
from diabetes_risk_model.prediction.schemas import FEATURE_COLUMNS
from diabetes_risk_model.training.params import TARGET

KAGGLE_DATASET = "alexteboul/diabetes-health-indicators-dataset"
DATA_FILE_NAME = "diabetes_binary_5050split_health_indicators_BRFSS2015.csv"
DEFAULT_DATA_PATH = Path("data") / DATA_FILE_NAME
DATA_ENV = "DIABETES_DATA"

ORIGINAL_COLUMNS: tuple[str, ...] = (
    "Diabetes_binary", "HighBP", "HighChol", "CholCheck", "BMI", "Smoker", "Stroke", "HeartDiseaseorAttack",
    "PhysActivity", "Fruits", "Veggies", "HvyAlcoholConsump", "AnyHealthcare", "NoDocbcCost", "GenHlth",
    "MentHlth", "PhysHlth", "DiffWalk", "Sex", "Age", "Education", "Income",
)  # fmt: skip

#: The training data's columns under the names the pipeline and the service use: the target, then the
#: features (:data:`~diabetes_risk_model.prediction.schemas.FEATURE_COLUMNS`, defined once, there).
RENAMED_COLUMNS: tuple[str, ...] = (TARGET, *FEATURE_COLUMNS)

#: Original column name -> renamed, for the columns whose name changes (the dataset's order is the features').
RENAMES: dict[str, str] = {
    original: renamed
    for original, renamed in zip(ORIGINAL_COLUMNS, RENAMED_COLUMNS, strict=True)
    if original != renamed
}


def kaggle_credentials_available(environ: Mapping[str, str] | None = None) -> bool:
    """True if the Kaggle client would find credentials (env variables or a kaggle.json)."""
    env = os.environ if environ is None else environ
    if env.get("KAGGLE_USERNAME") and env.get("KAGGLE_KEY"):
        return True
    if env.get("KAGGLE_API_TOKEN"):
        return True
    home = Path(env.get("HOME") or Path.home())
    dirs = [Path(env["KAGGLE_CONFIG_DIR"])] if env.get("KAGGLE_CONFIG_DIR") else []
    dirs += [home / ".kaggle", home / ".config" / "kaggle"]
    return any((directory / "kaggle.json").is_file() for directory in dirs)


def download_from_kaggle(destination_dir: Path) -> Path:
    """Download and unzip the Kaggle dataset into *destination_dir*; return the 50/50 split CSV's path."""
    try:
        from kaggle.api.kaggle_api_extended import KaggleApi
    except ImportError as exc:  # pragma: no cover - kaggle is a pinned dependency
        raise DataNotFound("the kaggle package is not installed (pip install kaggle)") from exc
    destination_dir.mkdir(parents=True, exist_ok=True)
    try:
        api = KaggleApi()
        api.authenticate()
        api.dataset_download_files(KAGGLE_DATASET, path=str(destination_dir), unzip=True, quiet=False)
    except Exception as exc:  # the client raises bare Exceptions, HTTP and OS errors alike
        raise DataNotFound(
            f"downloading {KAGGLE_DATASET} from Kaggle failed ({type(exc).__name__}); "
            f"download it by hand and set {DATA_ENV} to the CSV's path",
            source="kaggle",
        ) from exc
    path = destination_dir / DATA_FILE_NAME
    if not path.is_file():
        raise DataNotFound(f"the Kaggle download did not contain {DATA_FILE_NAME}", source="kaggle", path=str(path))
    return path


def locate_data(
    explicit: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    default: Path = DEFAULT_DATA_PATH,
    allow_download: bool = True,
) -> Path:
    """Return the CSV to train on, downloading it from Kaggle only when no local file is configured or present.

    Raises :class:`DataNotFound` naming both ways to provide the data when there is none.
    """
    env = os.environ if environ is None else environ
    if explicit is not None and str(explicit) != "":
        path = Path(explicit)
        if not path.is_file():
            raise DataNotFound(f"training data not found at {path} (given explicitly)", path=str(path))
        return path
    from_env = env.get(DATA_ENV, "")
    if from_env:
        path = Path(from_env)
        if not path.is_file():
            raise DataNotFound(f"training data not found at {path} (from ${DATA_ENV})", path=str(path))
        return path
    if default.is_file():
        return default
    if allow_download and kaggle_credentials_available(env):
        return download_from_kaggle(default.parent)
    raise DataNotFound(
        f"no training data: set {DATA_ENV} to the path of {DATA_FILE_NAME} (default {default}), "
        f"or configure Kaggle credentials (~/.kaggle/kaggle.json or KAGGLE_USERNAME/KAGGLE_KEY) "
        f"to download {KAGGLE_DATASET}",
        path=str(default),
    )


def check_data_source(
    explicit: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    default: Path = DEFAULT_DATA_PATH,
) -> str:
    """Where :func:`locate_data` will find the data, checked without downloading anything (a pre-flight check).

    Returns the CSV's path, or ``"Kaggle (<dataset>)"`` when the download will be needed and credentials are
    configured. Raises the same one-line :class:`DataNotFound` as :func:`locate_data` otherwise.
    """
    env = os.environ if environ is None else environ
    configured = (explicit is not None and str(explicit) != "") or bool(env.get(DATA_ENV, ""))
    if not configured and not default.is_file() and kaggle_credentials_available(env):
        return f"Kaggle ({KAGGLE_DATASET})"
    return str(locate_data(explicit, env, default, allow_download=False))


def validate_columns(columns: list[str] | tuple[str, ...], expected: tuple[str, ...] = ORIGINAL_COLUMNS) -> None:
    """Raise :class:`SchemaMismatch` naming every missing and unexpected column (order is not checked)."""
    present = list(columns)
    missing = [name for name in expected if name not in present]
    unexpected = [name for name in present if name not in expected]
    duplicated = sorted({name for name in present if present.count(name) > 1})
    if missing or unexpected:
        raise SchemaMismatch(missing, unexpected)
    if duplicated:
        raise DataError("duplicated columns: " + ", ".join(duplicated), duplicated=duplicated)


def load_data(path: str | Path) -> pd.DataFrame:
    """Read the Kaggle CSV (original column names) and check its columns, types and target values."""
    path = Path(path)
    if not path.is_file():
        raise DataNotFound(f"training data not found at {path}", path=str(path))
    try:
        frame = pd.read_csv(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{path} is not a readable CSV file ({type(exc).__name__})", path=str(path)) from exc
    # A repeated header comes back from pandas as "name.1", so it is reported as an unexpected column.
    validate_columns([str(name) for name in frame.columns])
    if frame.empty:
        raise DataError(f"{path} has a header but no rows", path=str(path))
    not_numeric = [str(name) for name in frame.columns if not pd.api.types.is_numeric_dtype(frame[name])]
    if not_numeric:
        raise DataError("non-numeric values in columns: " + ", ".join(not_numeric), columns=not_numeric)
    with_missing = [str(name) for name in frame.columns if frame[name].isna().any()]
    if with_missing:
        raise DataError("missing values in columns: " + ", ".join(with_missing), columns=with_missing)
    labels = set(frame["Diabetes_binary"].unique().tolist())
    if not labels <= {0, 1}:
        raise DataError("Diabetes_binary must hold only 0 and 1", column="Diabetes_binary")
    frame["Diabetes_binary"] = frame["Diabetes_binary"].astype("int64")
    return frame


def rename_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy with the original design's readable column names (the exact mapping in :data:`RENAMES`)."""
    validate_columns([str(name) for name in frame.columns])
    return frame.rename(columns=RENAMES)


def stratified_sample(frame: pd.DataFrame, rows: int | None, seed: int = 42, target: str = TARGET) -> pd.DataFrame:
    """A class-stratified sample of *rows* rows (all rows if *rows* is None or not smaller than the data)."""
    if rows is None or rows >= len(frame):
        return frame
    from sklearn.model_selection import train_test_split

    sample, _ = train_test_split(frame, train_size=rows, stratify=frame[target], random_state=seed)
    return sample.sort_index()
