"""The service benchmarks' rig: a small real pipeline signed into a ``file://`` store, configs, and uvicorn
servers started and timed to ready. Shared by ``bench_service.py``, ``bench_v2.py`` and ``bench_sandbox.py``;
importing it puts the repository on ``sys.path`` (the scripts run as ``python benchmarks/<script>.py``)."""

from __future__ import annotations

import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(REPO))

import diabetes_risk_model  # noqa: E402

NAME = "diabetes_risk_model"
PARAMETERS_VERSION = "2026_11_22"
OBJECT_NAME = f"{NAME}-{diabetes_risk_model.__version__}-{PARAMETERS_VERSION}.zip"
PREDICT_PATH = "/api/models/diabetes_risk_model/prediction"
DEFAULT_DATA = REPO.parent / "shared" / "data" / "diabetes_binary_5050split_health_indicators_BRFSS2015.csv"


# -- setup ---------------------------------------------------------------------------------------


def train_pipeline(csv: Path, rows_per_class: int) -> Any:
    from diabetes_risk_model.training.smoke import train_smoke_pipeline

    return train_smoke_pipeline(csv, rows=2 * rows_per_class)


def prepare(workdir: Path, csv: Path, rows_per_class: int) -> dict[str, Path]:
    """Signed package + keyring in one store, bare pickle in another; returns their paths."""
    from diabetes_risk_model.signing import Key, Keyring, build_package

    started = time.perf_counter()
    pipeline = train_pipeline(csv, rows_per_class)
    print(f"trained pipeline on {2 * rows_per_class} rows in {time.perf_counter() - started:.1f}s", flush=True)
    model_pickle = workdir / "model.pkl"
    model_pickle.write_bytes(pickle.dumps(pipeline, protocol=pickle.HIGHEST_PROTOCOL))
    signing = Keyring([Key.generate("bench", "ecdsa-p256")])
    keyring = signing.public().save(workdir / "public-keyring.json")
    package = build_package(
        workdir / "package",
        name=NAME,
        version=diabetes_risk_model.__version__,
        parameters_version=PARAMETERS_VERSION,
        model_pickle=model_pickle,
        extra_members={},
        keyring=signing,
    )
    signed_store = workdir / "signed-store"
    unsigned_store = workdir / "unsigned-store"
    for store, source in ((signed_store, package), (unsigned_store, model_pickle)):
        (store / "model-files").mkdir(parents=True)
        (store / "model-files" / OBJECT_NAME).write_bytes(source.read_bytes())
    return {"keyring": keyring, "signed_store": signed_store, "unsigned_store": unsigned_store}


def write_config(
    path: Path, class_path: str, store: Path, keyring: Path, precompute: bool, metrics: bool = False
) -> Path:
    config: dict[str, Any] = {
        "service_title": "Diabetes Risk Model Service (benchmark)",
        "version": diabetes_risk_model.__version__,
        "models": [
            {
                "class_path": class_path,
                "create_endpoint": True,
                "configuration": {
                    "model_parameters_version": PARAMETERS_VERSION,
                    "model_files_bucket": "model-files",
                    "minio_url": store.resolve().as_uri(),
                    "keyring_path": str(keyring),
                    "storage_attempts": 1,
                    "precompute": precompute,
                    # The smoke pipeline's feature selection keeps PhysicalHealth instead of GeneralHealth;
                    # throughput does not depend on which four columns it kept.
                    "feature_check": "warn",
                },
            }
        ],
    }
    if metrics:
        config["metrics"] = {"enabled": True}
    path.write_text(json.dumps(config))  # JSON is YAML
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    cold_start: float

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(config: Path, log: Path, timeout: float = 180.0) -> Server:
    port = free_port()
    env = dict(os.environ)
    env["REST_CONFIG"] = str(config)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(BENCH_DIR), env.get("PYTHONPATH", "")])
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "diabetes_risk_model.service.app:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    started = time.perf_counter()
    with log.open("ab") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
    deadline = started + timeout
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}; see {log}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health/ready", timeout=1) as response:
                if response.status == 200:
                    return Server(process, port, time.perf_counter() - started)
        except OSError:
            pass
        time.sleep(0.02)
    process.kill()
    raise RuntimeError(f"server not ready within {timeout}s; see {log}")
