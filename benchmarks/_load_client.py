"""The benchmarks' load client: N concurrent keep-alive HTTP/1.1 clients on asyncio streams (no client library
in the way) posting request bodies encoded before the clock starts; latencies, errors and, in a soak, the
server's RSS."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass, field

import psutil
from _service_rig import PREDICT_PATH, Server

from diabetes_risk_model.prediction.schemas import Age, DiabetesRiskModelInput, GeneralHealth, Income

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


async def generate_load(port: int, clients: int, seconds: float, warmup: float, requests: list[bytes]) -> LoadResult:
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
    return asyncio.run(generate_load(port, clients, seconds, warmup, requests))


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
        result = await generate_load(server.port, clients, seconds, 2.0, requests)
        stop.set()
        await sampler
        return result

    return asyncio.run(soak()), samples


def line(label: str, result: LoadResult) -> str:
    return (
        f"  {label:<9} clients={result.clients:>3}  {result.rps:8.1f} req/s  p50={result.percentile(0.50):7.2f} ms  "
        f"p99={result.percentile(0.99):7.2f} ms  n={len(result.latencies):>6}  errors={result.errors}"
    )
