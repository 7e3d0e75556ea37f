#!/usr/bin/env python
"""`make run`: the whole product on one machine, from nothing to a served prediction.

1. a development ECDSA P-256 keyring in .keys/ (git-ignored; private ring 0600, public ring for the service)
2. fast training on the real data ($DIABETES_DATA, else data/<the CSV>, else Kaggle), signed and packaged
3. a model store: $MINIO_URL if set; else a real MinIO built from source (by scripts/make_run.sh, in the
   background while the venv installs and the model trains; --minio-build-status names the file its exit
   status lands in), started on loopback by the test suite's MinIO runner (tests/support/minio_server.py: one
   runner for both); else (no Go toolchain) a local directory store
4. the package published to the store: one line `published <object> sequence=<n> sha256=<hex>`
5. the service started on 127.0.0.1 (uvicorn, docker_rest_config.yaml, public keys only), pinned to that
   package: MODEL_PACKAGE_SHA256 and MODEL_MIN_SEQUENCE in its environment
6. one prediction sent, request and response printed; the service (and MinIO) left running

`make stop` stops what this started (pids in .run/pids). Where the data will come from is checked before
anything starts, so a missing CSV (without Kaggle credentials) fails in the first second.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from diabetes_risk_model import __version__  # noqa: E402
from diabetes_risk_model.errors import DiabetesRiskModelError  # noqa: E402

RUN_DIR = REPO / ".run"
QUALIFIED_NAME = "diabetes_risk_model"
EXAMPLE_INPUT = {
    "body_mass_index": 32,
    "general_health": "FAIR",
    "age": "SIXTY_TO_SIXTY_FOUR",
    "income": "LESS_THAN_10K",
}


def say(message: str) -> None:
    print(f"==> [{time.strftime('%H:%M:%S', time.gmtime())}] {message}", flush=True)


def wait_for_build(status_file: Path) -> None:
    """Wait until the background MinIO build has written its exit status; fail with its log if it failed."""
    if not status_file.exists():
        say("waiting for the MinIO build to finish (log .run/minio-build.log)")
    while not status_file.exists():
        time.sleep(1)
    log = RUN_DIR / "minio-build.log"
    if status_file.read_text().strip() != "0":
        tail = log.read_text(errors="replace").splitlines()[-20:] if log.is_file() else []
        print("\n".join(tail), file=sys.stderr)
        raise SystemExit(f"error: building MinIO failed (see {log})")
    say(f"MinIO build finished ({log.read_text().strip().splitlines()[-1] if log.is_file() else 'no log'})")


def served_urls(url: str) -> list[str]:
    """The human-facing pages the running service answers 200 on (its settings may turn some off)."""
    found = []
    for path in ("/docs", "/redoc", "/metrics", "/v2"):
        try:
            with urllib.request.urlopen(f"{url}{path}", timeout=5) as response:
                if response.status == 200:
                    found.append(f"{url}{path}")
        except (urllib.error.URLError, OSError):
            pass
    return found


def ensure_keys(keys_dir: Path) -> tuple[Path, Path]:
    """Create the development keyrings once; reuse them afterwards."""
    from diabetes_risk_model.signing import Keyring
    from diabetes_risk_model.signing.keys import ECDSA_P256, Key

    private_path, public_path = keys_dir / "signing_keyring.json", keys_dir / "public_keyring.json"
    if private_path.is_file() and public_path.is_file():
        say(f"using the development keyring in {keys_dir}/")
        return private_path, public_path
    # Key material may be written inside the work tree only where git ignores it.
    probe = keys_dir / "signing_keyring.json"
    ignored = subprocess.run(["git", "check-ignore", "-q", str(probe)], cwd=REPO, check=False).returncode == 0
    if not ignored:
        raise SystemExit(f"error: {keys_dir} is not git-ignored; refusing to write key material there")
    key_id = "dev-" + time.strftime("%Y%m%d", time.gmtime()) + "-" + secrets.token_hex(3)
    ring = Keyring([Key.generate(key_id, ECDSA_P256)])
    ring.save(private_path, allow_inside_repository=True)
    ring.public().save(public_path, allow_inside_repository=True)
    say(f"generated development ECDSA key {key_id}: private ring {private_path} (0600), public ring {public_path}")
    return private_path, public_path


def start_store(env: dict[str, str], pids: list[int]) -> str:
    """Return a description of the store in use, setting MINIO_* in *env*."""
    if env.get("MINIO_URL"):
        say(f"publishing to the store at MINIO_URL ({env['MINIO_URL']})")
        return env["MINIO_URL"]
    from tests.support.minio_server import MinioServer, find_minio_binary

    try:
        find_minio_binary()
    except DiabetesRiskModelError as exc:
        store_dir = RUN_DIR / "store"
        say(f"{exc}; using the local directory store {store_dir}")
        env.update(MINIO_URL=f"file://{store_dir}", MINIO_ACCESS_KEY="", MINIO_SECRET_KEY="", MINIO_SECURE="false")
        return env["MINIO_URL"]
    server = MinioServer(data_dir=RUN_DIR / "minio-data", log_path=RUN_DIR / "minio.log").start()
    assert server.process is not None
    pids.append(server.process.pid)
    env.update(
        MINIO_URL=server.endpoint,
        MINIO_ACCESS_KEY=server.access_key,
        MINIO_SECRET_KEY=server.secret_key,
        MINIO_SECURE="false",
    )
    (RUN_DIR / "minio.env").write_text(
        f"MINIO_URL={server.endpoint}\nMINIO_ACCESS_KEY={server.access_key}\nMINIO_SECRET_KEY={server.secret_key}\n"
    )
    (RUN_DIR / "minio.env").chmod(0o600)
    say(f"started MinIO at {server.url} (credentials in .run/minio.env, log .run/minio.log)")
    return server.url


def check_data(env: dict[str, str]) -> str:
    """Where training will read the data from ($DIABETES_DATA, data/<the CSV>, or Kaggle); fail now if nowhere."""
    from diabetes_risk_model.training.data import DEFAULT_DATA_PATH, check_data_source

    env = dict(env)
    if env.get("DIABETES_DATA"):
        env["DIABETES_DATA"] = str(REPO / env["DIABETES_DATA"])  # training runs in REPO; an absolute path stays
    return check_data_source(None, env, default=REPO / DEFAULT_DATA_PATH)


def train(env: dict[str, str], output: Path) -> Path:
    say("training in fast mode, then signing and packaging (a few minutes on 2 cores)")
    before = set(output.glob(f"{QUALIFIED_NAME}-*.zip"))
    # No --data: the training CLI finds the data itself ($DIABETES_DATA, data/<the CSV>, then Kaggle).
    cmd = [sys.executable, "-m", "diabetes_risk_model.training", "--fast", "--output", str(output), "--no-upload"]
    subprocess.run(cmd, cwd=REPO, env=env, check=True)
    made = sorted(set(output.glob(f"{QUALIFIED_NAME}-*.zip")) - before) or sorted(
        output.glob(f"{QUALIFIED_NAME}-*.zip")
    )
    if not made:
        raise SystemExit(f"error: training wrote no package to {output}")
    return max(made, key=lambda p: p.stat().st_mtime)


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"error: the service exited with code {process.returncode}; see .run/service.log")
        try:
            with urllib.request.urlopen(f"{url}/api/health/ready", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise SystemExit(f"error: the service did not become ready within {timeout:.0f}s; see .run/service.log")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys-dir", type=Path, default=REPO / ".keys")
    parser.add_argument("--only-keys", action="store_true", help="generate the development keyring and stop")
    parser.add_argument("--minio-build-status", type=Path, help="file the background MinIO build writes its status to")
    parser.add_argument("--port", type=int, default=int(os.environ.get("SERVICE_PORT", "8000")))
    args = parser.parse_args()
    keys_dir = args.keys_dir if args.keys_dir.is_absolute() else REPO / args.keys_dir

    private_ring, public_ring = ensure_keys(keys_dir)
    if args.only_keys:
        return 0
    say(f"training data: {check_data(dict(os.environ))}")

    RUN_DIR.mkdir(exist_ok=True)
    pids: list[int] = []
    env = dict(os.environ)
    env.setdefault("MPLBACKEND", "Agg")

    package = train({**env, "MODEL_KEYRING": str(private_ring)}, REPO / "artifacts")
    say(f"built {package.relative_to(REPO)}")
    if args.minio_build_status is not None:
        wait_for_build(args.minio_build_status)
    start_store(env, pids)

    from diabetes_risk_model.signing import Keyring
    from diabetes_risk_model.storage import published_line, store_from_env
    from diabetes_risk_model.training.publish import package_pin, publish

    store = store_from_env(env)
    object_name = publish(package, store=store, progress=sys.stderr.isatty())
    pin = package_pin(package, Keyring.load(public_ring))
    say(f"stored in {env['MINIO_URL']} bucket {store.bucket}")
    print(published_line(object_name, pin), flush=True)

    parameters_version = package.stem.rsplit("-", 1)[-1]
    url = f"http://127.0.0.1:{args.port}"
    service_env = {
        **env,
        "REST_CONFIG": str(REPO / "configuration" / "docker_rest_config.yaml"),
        "MODEL_KEYRING": str(public_ring),  # the service gets public keys only
        "MODEL_PARAMETERS_VERSION": parameters_version,
        # Pinned to the package just published: another file under that name, or an older sequence, is refused.
        "MODEL_PACKAGE_SHA256": pin.sha256,
        "MODEL_MIN_SEQUENCE": str(pin.sequence),
    }
    service_env.pop("PARAMETERS_SIGNING_KEY", None)
    log = (RUN_DIR / "service.log").open("ab")
    service = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "diabetes_risk_model.service.app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(args.port),
        ],
        cwd=REPO,
        env=service_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    pids.append(service.pid)
    (RUN_DIR / "pids").write_text("".join(f"{pid}\n" for pid in pids))
    say(f"starting the service at {url} (log .run/service.log); waiting for it to verify and load the model")
    wait_ready(url, service)

    endpoint = f"{url}/api/models/{QUALIFIED_NAME}/prediction"
    body = json.dumps(EXAMPLE_INPUT).encode()
    request = urllib.request.Request(endpoint, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        answer = response.read().decode()
    print(f"\nPOST {endpoint}\n{json.dumps(EXAMPLE_INPUT, indent=2)}\n\n{response.status}\n{answer}\n")
    pages = ", ".join(served_urls(url))
    listed = f" ({pages})" if pages else ""
    say(f"the service {__version__} is running at {url}{listed}; stop it with `make stop`")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except DiabetesRiskModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except subprocess.CalledProcessError as exc:
        print(f"error: {' '.join(map(str, exc.cmd[:4]))} ... exited with {exc.returncode}", file=sys.stderr)
        sys.exit(1)
