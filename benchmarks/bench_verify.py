"""Benchmark: verify a signed package holding a large artifact, against plain hashlib.sha256 in the same run.

Prints, for an artifact of ``--size`` bytes (default 1 GiB) stored as ``model.pkl``:

* throughput of ``verify_package(..., capture_model=False)`` as a ratio to plain ``hashlib.sha256`` over the
  same bytes read from the same file the same way (1 MiB ``readinto``) — goal >= 0.90;
* peak RSS growth during verification (Linux VmHWM, measured in a fresh child process) — goal <= 64 MiB;
* for information: RSS growth of ``capture_model=True`` (the serving path keeps exactly one copy of the
  pickle), and itsdangerous ``Signer.unsign`` (the original design: HMAC-SHA1, django-concat) over the same
  bytes, which needs the whole value in memory.

Goals are printed as PASS/MISS, never asserted (team rule: no timed assertions in tests).

    .venv/bin/python benchmarks/bench_verify.py --size 1GiB
    .venv/bin/python benchmarks/bench_verify.py --size 64MiB --repeat 2     # quick run for CI / developers
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from diabetes_risk_model.files import CHUNK_SIZE  # noqa: E402
from diabetes_risk_model.signing import Key, Keyring, build_package, verify_package  # noqa: E402

_UNITS = {"": 1, "b": 1, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "kb": 10**3, "mb": 10**6, "gb": 10**9}


def parse_size(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    if not match or match.group(2).lower() not in _UNITS:
        raise argparse.ArgumentTypeError("size like 1GiB, 256MiB, 1000000")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def _status(field: str) -> int:
    """A /proc/self/status field in bytes (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not available")


def _reset_peak() -> None:
    """Reset VmHWM to the current RSS (Linux >= 4.0); harmless if refused."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _plain_sha256(path: Path, offset: int, length: int) -> str:
    sha = hashlib.sha256()
    buf = bytearray(CHUNK_SIZE)
    view = memoryview(buf)
    with open(path, "rb") as stream:
        stream.seek(offset)
        done = 0
        while done < length:
            n = stream.readinto(view[: min(CHUNK_SIZE, length - done)])
            if not n:
                break
            sha.update(view[:n])
            done += n
    return sha.hexdigest()


def measure(package: Path, ring_path: Path, repeat: int) -> dict[str, float]:
    """Runs in a fresh child process so peak-RSS figures are not polluted by building the package."""
    import zipfile

    import itsdangerous

    keyring = Keyring.load(ring_path)
    with zipfile.ZipFile(package) as archive:
        info = archive.getinfo("model.pkl")
    offset = info.header_offset + 30 + len(info.filename)
    size = info.file_size
    _plain_sha256(package, offset, size)  # warm the page cache: both contenders read from memory

    base_times, verify_times = [], []
    rss_before = _status("VmRSS")
    _reset_peak()
    for _ in range(repeat):
        start = time.perf_counter()
        _plain_sha256(package, offset, size)
        base_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        verify_package(package, keyring, capture_model=False)
        verify_times.append(time.perf_counter() - start)
    growth_verify = _status("VmHWM") - rss_before

    rss_before = _status("VmRSS")
    _reset_peak()
    start = time.perf_counter()
    verified = verify_package(package, keyring, capture_model=True)
    capture_time = time.perf_counter() - start
    growth_capture = _status("VmHWM") - rss_before
    del verified

    with zipfile.ZipFile(package) as archive:
        data = archive.read("model.pkl")
    results: dict[str, float] = {}
    for label, signer in (
        ("sha1", itsdangerous.Signer("k" * 64)),  # the original design's defaults
        ("sha256", itsdangerous.Signer("k" * 64, key_derivation="hmac", digest_method=hashlib.sha256)),
    ):
        signed = signer.sign(data)
        rss_before = _status("VmRSS")
        _reset_peak()
        start = time.perf_counter()
        signer.unsign(signed)
        results[f"unsign_{label}_s"] = time.perf_counter() - start
        results[f"unsign_{label}_growth"] = _status("VmHWM") - rss_before
        del signed
    results.update(
        size=size,
        sha256_best_s=min(base_times),
        verify_best_s=min(verify_times),
        verify_capture_s=capture_time,
        growth_verify=growth_verify,
        growth_capture=growth_capture,
    )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=parse_size, default=1 << 30, help="artifact size (default 1GiB)")
    parser.add_argument("--repeat", type=int, default=3, help="timed rounds; the best of each is used")
    parser.add_argument("--workdir", type=Path, help="where to write the artifact (default: a temp dir)")
    parser.add_argument("--measure", nargs=2, metavar=("PACKAGE", "KEYRING"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(Path(args.measure[0]), Path(args.measure[1]), args.repeat)))
        return 0

    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        root = Path(tmp)
        artifact = root / "artifact.bin"
        block = os.urandom(CHUNK_SIZE)
        with open(artifact, "wb") as out:  # incompressible, written in 1 MiB steps
            for i in range(args.size // CHUNK_SIZE):
                out.write(block[i % 251 :] + block[: i % 251])
            out.write(os.urandom(args.size % CHUNK_SIZE))
        report = root / "report.html"
        report.write_text("<html>" + "row " * 10000 + "</html>")
        ring = Keyring([Key.generate("bench", "ecdsa-p256")])
        ring_path = ring.save(root / "ring.json")
        start = time.perf_counter()
        package = build_package(
            root / "out",
            name="bench_model",
            version="0.0.0",
            parameters_version="bench",
            model_pickle=artifact,
            extra_members={"data_report.html": report},
            keyring=ring,
            sequence=1,
        )
        build_s = time.perf_counter() - start
        artifact.unlink()
        child = subprocess.run(
            [sys.executable, __file__, "--repeat", str(args.repeat), "--measure", str(package), str(ring_path)],
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(child.stdout)

    mib = 1 << 20
    size = r["size"]
    ratio = r["sha256_best_s"] / r["verify_best_s"]
    print(f"artifact: {size / mib:.0f} MiB stored as model.pkl; best of {args.repeat} rounds; page cache warm")
    print(f"build_package:                 {build_s:8.2f} s  ({size / mib / build_s:7.0f} MiB/s)")
    print(f"plain hashlib.sha256:          {r['sha256_best_s']:8.2f} s  ({size / mib / r['sha256_best_s']:7.0f} MiB/s)")
    print(f"verify_package (no capture):   {r['verify_best_s']:8.2f} s  ({size / mib / r['verify_best_s']:7.0f} MiB/s)")
    print(f"verify_package (capture):      {r['verify_capture_s']:8.2f} s")
    print(f"itsdangerous unsign, SHA-1:    {r['unsign_sha1_s']:8.2f} s  (original design's defaults)")
    print(f"itsdangerous unsign, SHA-256:  {r['unsign_sha256_s']:8.2f} s")
    print(f"throughput ratio verify/sha256: {ratio:.3f}  (goal >= 0.90: {'PASS' if ratio >= 0.90 else 'MISS'})")
    growth = r["growth_verify"] / mib
    print(f"peak RSS growth, verify:        {growth:.1f} MiB  (goal <= 64 MiB: {'PASS' if growth <= 64 else 'MISS'})")
    print(f"peak RSS growth, capture:       {r['growth_capture'] / mib:.1f} MiB  (one copy of the pickle, by design)")
    print(f"peak RSS growth, unsign SHA-1:  {r['unsign_sha1_growth'] / mib:.1f} MiB  (whole value in memory)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
