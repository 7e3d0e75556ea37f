"""Rows per second through the Open Inference Protocol's infer, side by side with the existing endpoint.

One run, one uvicorn worker on loopback, one server (ours: verified package, answer table precomputed),
the same random valid rows for every variant:

- **existing**: ``POST /api/models/diabetes_risk_model/prediction``, one row per request;
- **v2 batch B**: ``POST /v2/models/diabetes_risk_model/infer`` with B rows per request (default 1, 100
  and 10,000), one tensor per field as ``tests/service/test_v2_tritonclient.py`` sends them.

Each variant runs ``--duration`` seconds after ``--warmup`` with ``--clients`` keep-alive HTTP/1.1 clients
(asyncio streams, request bodies encoded before the clock starts; see ``_load_client.py``). Rows/s is
answered rows (200 and an output) per second. Goal: >= 100,000 rows/s at batch 10,000. The script prints
the figures and the verdict; it asserts nothing.

    .venv/bin/python benchmarks/bench_v2.py                        # defaults: 5 s per variant, 1 client
    .venv/bin/python benchmarks/bench_v2.py --duration 10 --clients 2 --batches 1,100,1000,10000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
from pathlib import Path

from _load_client import LoadResult, generate_load
from _service_rig import DEFAULT_DATA, PREDICT_PATH, prepare, start_server, write_config

from diabetes_risk_model.prediction.model import DiabetesRiskModel
from diabetes_risk_model.prediction.schemas import Age, GeneralHealth, Income

INFER_PATH = "/v2/models/diabetes_risk_model/infer"
GOAL_ROWS_PER_SECOND = 100_000


def random_rows(count: int, seed: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    return [
        {
            "body_mass_index": rng.randint(15, 60),
            "general_health": rng.choice(list(GeneralHealth)).value,
            "age": rng.choice(list(Age)).value,
            "income": rng.choice(list(Income)).value,
        }
        for _ in range(count)
    ]


def infer_body(rows: list[dict[str, object]]) -> bytes:
    datatypes = {"body_mass_index": "INT64", "general_health": "BYTES", "age": "BYTES", "income": "BYTES"}
    inputs = [
        {"name": name, "shape": [len(rows)], "datatype": datatype, "data": [row[name] for row in rows]}
        for name, datatype in datatypes.items()
    ]
    return json.dumps({"inputs": inputs}).encode()


def http_request(port: int, path: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def measure(port: int, requests: list[bytes], clients: int, seconds: float, warmup: float) -> LoadResult:
    return asyncio.run(generate_load(port, clients, seconds, warmup, requests))


def line(label: str, batch: int, result: LoadResult) -> str:
    rows = len(result.latencies) * batch / result.seconds
    return (
        f"  {label:<9} batch={batch:>6}  {result.rps:8.1f} req/s  {rows:10.0f} rows/s  "
        f"p50={result.percentile(0.50):8.2f} ms  p99={result.percentile(0.99):8.2f} ms  "
        f"n={len(result.latencies):>6}  errors={result.errors}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", default="1,100,10000", help="V2 rows per request (default 1,100,10000)")
    parser.add_argument("--clients", type=int, default=1, help="concurrent keep-alive clients (default 1)")
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds per variant (default 5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each variant")
    parser.add_argument("--rows-per-class", type=int, default=1000, help="training rows per class (default 1000)")
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("DIABETES_DATA") or DEFAULT_DATA))
    args = parser.parse_args(argv)
    batches = [int(x) for x in args.batches.split(",") if x.strip()]
    if not args.data.is_file():
        print(f"error: training data not found at {args.data}; set DIABETES_DATA or --data", file=sys.stderr)
        return 2

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, one uvicorn worker, loopback", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-v2-") as tmp:
        workdir = Path(tmp)
        paths = prepare(workdir, args.data, args.rows_per_class)
        class_path = f"{DiabetesRiskModel.__module__}.DiabetesRiskModel"
        config = write_config(workdir / "ours.yaml", class_path, paths["signed_store"], paths["keyring"], True)
        log = workdir / "server.log"
        try:
            server = start_server(config, log)
        except RuntimeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            print(log.read_text(errors="replace")[-3000:], file=sys.stderr)
            return 1
        try:
            port = server.port
            print(f"\nrows/s, {args.clients} client(s), {args.duration:.0f} s each:", flush=True)
            singles = [http_request(port, PREDICT_PATH, json.dumps(row).encode()) for row in random_rows(2000, 1)]
            existing = measure(port, singles, args.clients, args.duration, args.warmup)
            existing_rows = len(existing.latencies) / existing.seconds
            print(line("existing", 1, existing), flush=True)
            figures: dict[int, float] = {}
            for batch in batches:
                variants = max(1, min(20, 20_000 // batch))
                requests = [
                    http_request(port, INFER_PATH, infer_body(random_rows(batch, seed))) for seed in range(variants)
                ]
                result = measure(port, requests, args.clients, args.duration, args.warmup)
                figures[batch] = len(result.latencies) * batch / result.seconds
                print(line("v2", batch, result), flush=True)
        finally:
            server.stop()
    print("\nratios (v2 rows/s over the existing endpoint's rows/s, same run):")
    for batch, rows in figures.items():
        print(f"  batch={batch:>6}  {rows / existing_rows:8.1f}x")
    if 10_000 in figures:
        verdict = "met" if figures[10_000] >= GOAL_ROWS_PER_SECOND else "NOT met"
        print(f"goal: >= {GOAL_ROWS_PER_SECOND:,} rows/s at batch 10,000: {figures[10_000]:,.0f} rows/s ({verdict})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
