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
import os
import pickle
import statistics
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

import pandas as pd
from _load_client import LoadResult, line, request_bodies, run_load, run_soak
from _service_rig import DEFAULT_DATA, OBJECT_NAME, prepare, start_server, write_config

from diabetes_risk_model.prediction.model import DiabetesRiskModel
from diabetes_risk_model.prediction.schemas import (
    FEATURE_COLUMNS,
    DiabetesRisk,
    DiabetesRiskModelOutput,
)
from diabetes_risk_model.prediction.settings import ModelSettings
from diabetes_risk_model.prediction.table import AnswerTable, key_for
from diabetes_risk_model.storage import open_store

METRICS_SLICES = 5  # alternating off/on slices per round of the metrics comparison


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
