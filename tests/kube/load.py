"""A bounded load generator for a Service on the test node: what kube-proxy would do, from the host.

There is no kube-proxy on the test node (it would program the machine's iptables), so the generator does its
job: it follows the Service's EndpointSlices through the API (every 0.25 s) and sends each request to one of
the endpoints marked ready, on its pod IP (the pod network is a bridge of this machine: loopback only in effect,
nothing leaves it). A terminating pod is dropped from the ready endpoints as soon as the API says so, as
kube-proxy drops it. Every request is a new connection, so none outlives the pod it went to.
"""

from __future__ import annotations

import http.client
import json
import random
import ssl
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from tests.kube.control_plane import ControlPlane

PREDICT = "/api/models/diabetes_risk_model/prediction"


def api_get(plane: ControlPlane, path: str) -> dict[str, Any]:
    """GET on the API server with the admin token (no kubectl process per poll)."""
    context = ssl.create_default_context(cafile=str(plane.root / "pki" / "ca.crt"))
    request = urllib.request.Request(plane.server + path, headers={"Authorization": f"Bearer {plane.token}"})
    with urllib.request.urlopen(request, timeout=5, context=context) as response:  # nosec B310 - our API server
        return dict(json.loads(response.read()))


def ready_endpoints(plane: ControlPlane, namespace: str, service: str) -> list[str]:
    slices = api_get(
        plane,
        f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices"
        f"?labelSelector=kubernetes.io%2Fservice-name%3D{service}",
    )["items"]
    found = []
    for item in slices:
        ports = [p["port"] for p in item.get("ports") or [] if p.get("name") == "http"]
        for endpoint in item.get("endpoints") or []:
            if endpoint.get("conditions", {}).get("ready") and ports:
                found += [f"{address}:{ports[0]}" for address in endpoint["addresses"]]
    return sorted(found)


@dataclass
class LoadResult:
    sent: int
    failed: list[str]
    latencies: list[float]
    # (body index, answer) pairs seen, and which pod answered
    answers: set[tuple[int, str]]
    endpoints_seen: set[str]

    @property
    def p99_ms(self) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]

    def line(self) -> str:
        return f"{self.sent} requests, {len(self.failed)} failed, p99 {self.p99_ms:.0f} ms"


@dataclass
class Load:
    """``with Load(plane, ns, svc, bodies) as load: ...``; ``load.result`` afterwards."""

    plane: ControlPlane
    namespace: str
    service: str
    bodies: list[dict[str, Any]]
    clients: int = 3
    pause: float = 0.02  # between one client's requests: a steady, bounded load
    _endpoints: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)
    _failed: list[str] = field(default_factory=list)
    _latencies: list[float] = field(default_factory=list)
    _answers: set[tuple[int, str]] = field(default_factory=set)
    _seen: set[str] = field(default_factory=set)
    result: LoadResult | None = None

    def __enter__(self) -> Load:
        self._endpoints = ready_endpoints(self.plane, self.namespace, self.service)
        assert self._endpoints, f"no ready endpoint of {self.namespace}/{self.service} to send load to"
        self._threads = [threading.Thread(target=self._follow, daemon=True)]
        self._threads += [threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(self.clients)]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        with self._lock:
            self.result = LoadResult(
                len(self._latencies) + len(self._failed),
                list(self._failed),
                list(self._latencies),
                set(self._answers),
                set(self._seen),
            )

    def _follow(self) -> None:
        while not self._stop.wait(0.25):
            try:
                endpoints = ready_endpoints(self.plane, self.namespace, self.service)
            except OSError:
                continue  # the API server's hiccup is not the service's failure; keep the last list
            with self._lock:
                self._endpoints = endpoints

    def _client(self, seed: int) -> None:
        rng = random.Random(seed)
        while not self._stop.is_set():
            with self._lock:
                endpoints = list(self._endpoints)
            if not endpoints:
                with self._lock:
                    self._failed.append("no ready endpoint")
                time.sleep(0.1)
                continue
            target = rng.choice(endpoints)
            index = rng.randrange(len(self.bodies))
            host, port = target.rsplit(":", 1)
            started = time.monotonic()
            try:
                connection = http.client.HTTPConnection(host, int(port), timeout=10)
                connection.request(
                    "POST", PREDICT, json.dumps(self.bodies[index]), {"Content-Type": "application/json"}
                )
                response = connection.getresponse()
                body = response.read()
                connection.close()
            except OSError as exc:
                with self._lock:
                    self._failed.append(f"{target}: {type(exc).__name__}: {exc}")
                continue
            elapsed = time.monotonic() - started
            with self._lock:
                self._seen.add(target)
                if response.status != 200:
                    self._failed.append(f"{target}: HTTP {response.status} {body[:200]!r}")
                else:
                    self._latencies.append(elapsed)
                    self._answers.add((index, str(json.loads(body)["diabetes_risk"])))
            time.sleep(self.pause)
