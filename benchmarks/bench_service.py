"""Load benchmark of the prediction service, side by side with the original design's predict().

What it does, all in one run on loopback (so ratios compare like with like):

1. Trains a small real pycaret pipeline (the original design's setup, ``gbc``),
   signs and packages it, and puts it in a ``file://`` store; also stores the
   bare pickle for the unsigned cold-start baseline.
2. Starts uvicorn (one worker) three ways, all through our app wrapper, so
   only the model class differs:
   - **ours**: ``DiabetesRiskModel`` (verified package, everything precomputed);
   - **per-call**: ours with ``precompute: false`` (a prebuilt row, one pipeline call per request), to
     separate the lookup table's gain from the rest;
   - **original**: the same loaded pipeline, but ``predict()`` as the original
     design wrote it (a 21-column DataFrame of ``None`` built per call);
   - **unsigned**: ours with verification removed (plain ``pickle.loads``), for
     the cold-start ratio only.
3. Load: N concurrent keep-alive HTTP/1.1 clients (asyncio streams, no client
   library in the way) post random valid inputs for ``--duration`` seconds at
   each of ``--clients`` levels; reports req/s, p50 and p99 latency and errors.
   Metrics overhead: ours with ``metrics: enabled`` against ours without, both servers up side by side,
   ``--metrics-rounds`` rounds (default 3) at each level, each round ``--duration`` seconds per variant measured
   in alternating off/on slices (ABBA order, so a machine load that drifts weighs on both alike), same bodies;
   prints each round's on/off request ratio and their mean (goal >= 0.95x at 1, 8 and 32 clients).
4. Soak: ``--soak`` seconds at ``--soak-clients`` clients against ours;
   reports errors and the server's RSS (first vs last 10 % of samples).
5. Cold start: process spawn to ``/api/health/ready`` = 200, signed vs
   unsigned, ``--cold-starts`` times each (alternating), median.

Goals: ours >= 2x the original's throughput and p99 <= 25 ms at 8 clients; cold
start signed/unsigned <= 1.30 (verification and the loading sandbox); soak with
zero errors and flat RSS. The script prints the figures and the goal verdicts; it asserts nothing.

    .venv/bin/python benchmarks/bench_service.py                      # defaults: 10 s per level, 120 s soak
    .venv/bin/python benchmarks/bench_service.py --duration 5 --soak 30 --clients 1,8
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import pickle
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import psutil

REPO = Path(__file__).resolve().parents[1]
BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(REPO))

import diabetes_risk_model  # noqa: E402
from diabetes_risk_model.prediction.model import DiabetesRiskModel  # noqa: E402
from diabetes_risk_model.prediction.schemas import (  # noqa: E402
    FEATURE_COLUMNS,
    Age,
    DiabetesRisk,
    DiabetesRiskModelInput,
    DiabetesRiskModelOutput,
    GeneralHealth,
    Income,
)
from diabetes_risk_model.prediction.settings import ModelSettings  # noqa: E402
from diabetes_risk_model.prediction.table import AnswerTable, key_for  # noqa: E402
from diabetes_risk_model.storage import open_store  # noqa: E402

NAME = "diabetes_risk_model"
PARAMETERS_VERSION = "2026_11_22"
OBJECT_NAME = f"{NAME}-{diabetes_risk_model.__version__}-{PARAMETERS_VERSION}.zip"
PREDICT_PATH = "/api/models/diabetes_risk_model/prediction"
METRICS_SLICES = 5  # alternating off/on slices per round of the metrics comparison
DEFAULT_DATA = REPO.parent / "shared" / "data" / "diabetes_binary_5050split_health_indicators_BRFSS2015.csv"


# -- the baselines (imported by the uvicorn subprocesses through PYTHONPATH=benchmarks) -----------


class OriginalDesignModel(DiabetesRiskModel):
    """Our loading, the original design's predict(): a DataFrame of 21 columns with None, built per call."""

    def predict(self, data: Any) -> DiabetesRiskModelOutput:
        X = pd.DataFrame(
            [
                [
                    None,
                    None,
                    None,
                    data.body_mass_index,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None if data.general_health is None else data.general_health.map(),
                    None,
                    None,
                    None,
                    None,
                    None if data.age is None else data.age.map(),
                    None,
                    None if data.income is None else data.income.map(),
                ]
            ],
            columns=list(FEATURE_COLUMNS),
        )
        y_hat = DiabetesRisk.map(float(self.pipeline.predict(X)[0]))
        return DiabetesRiskModelOutput(diabetes_risk=y_hat)


class UnsignedBaselineModel(DiabetesRiskModel):
    """Ours without verification: the same settings and answer table, but the stored object is a bare pickle,
    downloaded and loaded with pickle.loads (no keyring, no pin, no verification, no feature check)."""

    def __init__(self, metrics: Any = None, **configuration: Any) -> None:
        self.settings = settings = ModelSettings.parse(**configuration)
        store = open_store(settings.store_url, settings.model_files_bucket, settings.access_key, settings.secret_key)
        with tempfile.TemporaryDirectory(prefix="bench-unsigned-") as tmp:
            path = store.download(OBJECT_NAME, Path(tmp) / OBJECT_NAME)
            self._bare_pipeline = pickle.loads(path.read_bytes())  # the unsigned baseline, on purpose
        self._table = AnswerTable(self._bare_pipeline, precompute=settings.precompute)

    @property
    def pipeline(self) -> Any:
        return self._bare_pipeline

    def predict(self, data: Any) -> DiabetesRiskModelOutput:
        return self._table.answer(key_for(data))


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


# -- the load client ---------------------------------------------------------------------------


def request_bodies(count: int, seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    bodies = []
    for _ in range(count):
        item = DiabetesRiskModelInput(
            body_mass_index=rng.randint(15, 60),
            general_health=rng.choice(list(GeneralHealth)),
            age=rng.choice(list(Age)),
            income=rng.choice(list(Income)),
        )
        bodies.append(item.model_dump_json(exclude_none=True).encode())
    return bodies


def encode_request(port: int, body: bytes) -> bytes:
    head = (
        f"POST {PREDICT_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


@dataclass
class LoadResult:
    clients: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _client(port: int, requests: list[bytes], stop_at: float, measure_from: float, result: LoadResult) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    index = random.randrange(len(requests))
    try:
        while True:
            now = time.perf_counter()
            if now >= stop_at:
                return
            writer.write(requests[index % len(requests)])
            index += 1
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = await reader.readexactly(length)
            done = time.perf_counter()
            if now >= measure_from:
                if status_line.split(b" ", 2)[1:2] == [b"200"] and b"diabetes_risk" in body:
                    result.latencies.append(done - now)
                else:
                    result.errors += 1
    finally:
        writer.close()


async def _load(port: int, clients: int, seconds: float, warmup: float, requests: list[bytes]) -> LoadResult:
    start = time.perf_counter()
    measure_from = start + warmup
    stop_at = measure_from + seconds
    result = LoadResult(clients, seconds)
    tasks = [_client(port, requests, stop_at, measure_from, result) for _ in range(clients)]
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    result.errors += sum(1 for outcome in outcomes if isinstance(outcome, BaseException))
    return result


def run_load(port: int, clients: int, seconds: float, warmup: float, bodies: list[bytes]) -> LoadResult:
    requests = [encode_request(port, body) for body in bodies]
    return asyncio.run(_load(port, clients, seconds, warmup, requests))


async def _sample_rss(pid: int, stop: asyncio.Event, samples: list[int], every: float) -> None:
    process = psutil.Process(pid)
    while not stop.is_set():
        samples.append(process.memory_info().rss)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)


def run_soak(server: Server, clients: int, seconds: float, bodies: list[bytes]) -> tuple[LoadResult, list[int]]:
    requests = [encode_request(server.port, body) for body in bodies]
    samples: list[int] = []

    async def soak() -> LoadResult:
        stop = asyncio.Event()
        sampler = asyncio.create_task(_sample_rss(server.process.pid, stop, samples, 1.0))
        result = await _load(server.port, clients, seconds, 2.0, requests)
        stop.set()
        await sampler
        return result

    return asyncio.run(soak()), samples


# -- main ------------------------------------------------------------------------------------------


def line(label: str, result: LoadResult) -> str:
    return (
        f"  {label:<9} clients={result.clients:>3}  {result.rps:8.1f} req/s  p50={result.percentile(0.50):7.2f} ms  "
        f"p99={result.percentile(0.99):7.2f} ms  n={len(result.latencies):>6}  errors={result.errors}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="1,8,32", help="comma-separated concurrency levels (default 1,8,32)")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per level (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each level")
    parser.add_argument("--soak", type=float, default=120.0, help="soak seconds against ours (0 = skip)")
    parser.add_argument("--soak-clients", type=int, default=16)
    parser.add_argument("--cold-starts", type=int, default=3, help="cold starts per variant (0 = skip)")
    parser.add_argument(
        "--metrics-only", action="store_true", help="only the metrics on/off comparison (skip the baselines)"
    )
    parser.add_argument("--metrics-rounds", type=int, default=3, help="off/on pairs per level (default 3)")
    parser.add_argument("--rows-per-class", type=int, default=1000, help="training rows per class (default 1000)")
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("DIABETES_DATA") or DEFAULT_DATA))
    args = parser.parse_args(argv)
    levels = [int(x) for x in args.clients.split(",") if x.strip()]
    if not args.data.is_file():
        print(f"error: training data not found at {args.data}; set DIABETES_DATA or --data", file=sys.stderr)
        return 2

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, one uvicorn worker, loopback", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-service-") as tmp:
        workdir = Path(tmp)
        paths = prepare(workdir, args.data, args.rows_per_class)
        log = workdir / "servers.log"
        configs = {
            "ours": write_config(
                workdir / "ours.yaml",
                f"{DiabetesRiskModel.__module__}.DiabetesRiskModel",
                paths["signed_store"],
                paths["keyring"],
                True,
            ),
            "per-call": write_config(
                workdir / "per-call.yaml",
                f"{DiabetesRiskModel.__module__}.DiabetesRiskModel",
                paths["signed_store"],
                paths["keyring"],
                False,
            ),
            "original": write_config(
                workdir / "original.yaml",
                "bench_service.OriginalDesignModel",
                paths["signed_store"],
                paths["keyring"],
                False,
            ),
            "metrics": write_config(
                workdir / "metrics.yaml",
                f"{DiabetesRiskModel.__module__}.DiabetesRiskModel",
                paths["signed_store"],
                paths["keyring"],
                True,
                metrics=True,
            ),
            "unsigned": write_config(
                workdir / "unsigned.yaml",
                "bench_service.UnsignedBaselineModel",
                paths["unsigned_store"],
                paths["keyring"],
                True,
            ),
        }
        bodies = request_bodies(5000)
        results: dict[tuple[str, int], LoadResult] = {}
        try:
            print("\nthroughput and latency (POST prediction, random valid inputs):", flush=True)
            for variant in () if args.metrics_only else ("ours", "per-call", "original"):
                server = start_server(configs[variant], log)
                try:
                    for clients in levels:
                        result = run_load(server.port, clients, args.duration, args.warmup, bodies)
                        results[(variant, clients)] = result
                        print(line(variant, result), flush=True)
                finally:
                    server.stop()
            for clients in levels if not args.metrics_only else ():
                ours, original = results[("ours", clients)], results[("original", clients)]
                per_call = results[("per-call", clients)]
                print(
                    f"  ratio     clients={clients:>3}  ours/original throughput = {ours.rps / original.rps:6.1f}x, "
                    f"per-call/original = {per_call.rps / original.rps:6.1f}x"
                )

            print(
                f"\nmetrics overhead (ours with metrics on vs off, both servers up side by side; {args.metrics_rounds} "
                f"rounds of {args.duration:.0f} s each, measured in {METRICS_SLICES} alternating slices):",
                flush=True,
            )
            overhead: dict[int, float] = {}
            for clients in levels:
                off_server, on_server = start_server(configs["ours"], log), start_server(configs["metrics"], log)
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{on_server.port}/metrics", timeout=5) as page:
                        assert b"model_package_info" in page.read()
                    for server in (off_server, on_server):  # warm both before anything is measured
                        run_load(server.port, clients, args.warmup, 0.0, bodies)
                    rounds: list[float] = []
                    for round_number in range(args.metrics_rounds):
                        done = {"off": 0, "on": 0}
                        errors = 0
                        for slice_number in range(METRICS_SLICES):
                            # ABBA order: a load that drifts during the round weighs on both the same
                            order = ("off", "on") if (round_number + slice_number) % 2 == 0 else ("on", "off")
                            for variant in order:
                                port = (off_server if variant == "off" else on_server).port
                                slice_result = run_load(port, clients, args.duration / METRICS_SLICES, 0.2, bodies)
                                done[variant] += len(slice_result.latencies)
                                errors += slice_result.errors
                        rounds.append(done["on"] / done["off"])
                        rate = {v: n / args.duration for v, n in done.items()}
                        print(
                            f"  round {round_number + 1}   clients={clients:>3}  off {rate['off']:8.1f} req/s  "
                            f"on {rate['on']:8.1f} req/s  on/off = {rounds[-1]:.3f}  errors={errors}",
                            flush=True,
                        )
                finally:
                    off_server.stop()
                    on_server.stop()
                overhead[clients] = statistics.mean(rounds)
                print(
                    f"  ratio     clients={clients:>3}  metrics on/off throughput = "
                    f"{overhead[clients]:.3f}x (mean of {len(rounds)} rounds; goal >= 0.95x)"
                )

            if args.soak > 0:
                print(f"\nsoak: {args.soak:.0f} s at {args.soak_clients} clients against ours", flush=True)
                server = start_server(configs["ours"], log)
                try:
                    soak, rss = run_soak(server, args.soak_clients, args.soak, bodies)
                finally:
                    server.stop()
                print(line("soak", soak))
                tenth = max(1, len(rss) // 10)
                first, last = statistics.mean(rss[:tenth]) / 2**20, statistics.mean(rss[-tenth:]) / 2**20
                print(
                    f"  RSS first 10% {first:.1f} MiB, last 10% {last:.1f} MiB, max {max(rss) / 2**20:.1f} MiB "
                    f"(growth {100 * (last - first) / first:+.2f}%, {len(rss)} samples)"
                )

            if args.cold_starts > 0:
                print(f"\ncold start to ready (spawn -> /api/health/ready 200), {args.cold_starts}x each:", flush=True)
                times: dict[str, list[float]] = {"ours": [], "unsigned": []}
                for _ in range(args.cold_starts):
                    for variant in ("unsigned", "ours"):
                        server = start_server(configs[variant], log)
                        times[variant].append(server.cold_start)
                        server.stop()
                signed, unsigned = statistics.median(times["ours"]), statistics.median(times["unsigned"])
                print(f"  signed (verified) median {signed:.2f} s  {[round(t, 2) for t in times['ours']]}")
                print(f"  unsigned baseline median {unsigned:.2f} s  {[round(t, 2) for t in times['unsigned']]}")
                print(f"  ratio signed/unsigned = {signed / unsigned:.3f}x (goal <= 1.30x)")

            if 8 in levels and not args.metrics_only:
                ours8, original8 = results[("ours", 8)], results[("original", 8)]
                print("\ngoals at 8 clients:")
                print(f"  throughput ours/original = {ours8.rps / original8.rps:.1f}x (goal >= 2x)")
                print(f"  p99 ours = {ours8.percentile(0.99):.2f} ms (goal <= 25 ms)")
        except RuntimeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            print(log.read_text(errors="replace")[-3000:], file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
