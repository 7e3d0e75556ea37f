"""Benchmark: sign and verify a large model as whole processes, ours side by side with ``model_signing``.

On the same ``--size`` bytes (default 1 GiB, incompressible), in the same run, in ``--repeat`` interleaved
rounds (best and median printed), page cache warm:

* ``python -m diabetes_risk_model sign`` (build an oms-v1 package: hash, CRC and copy into the zip in one
  pass, fsync, rename) vs ``model_signing sign key`` (hash the file, write model.sig) — goal: ours <= 1.0x;
* ``python -m diabetes_risk_model verify`` (the zip) vs ``model_signing verify key`` (the directory) —
  goal: ours >= 1.3x faster; for information also ``verify-oms`` on model_signing's own signature;
* in process: ``verify_package(capture_model=False)`` vs plain ``hashlib.sha256`` over the same bytes —
  goal: ratio >= 0.95;
* peak RSS growth of each process: its max RSS (``wait4`` rusage) minus that of the same program only
  starting up (``--help``) — goal <= 64 MiB for our sign and verify.

Goals are printed as PASS/MISS, never asserted. The machine may be shared: the load average is printed.

    .venv/bin/python benchmarks/bench_sign.py --size 1GiB
    .venv/bin/python benchmarks/bench_sign.py --size 64MiB --repeat 1     # quick run
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_verify import parse_size  # noqa: E402
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat  # noqa: E402

from diabetes_risk_model.files import CHUNK_SIZE  # noqa: E402
from diabetes_risk_model.signing import Key, Keyring, verify_package  # noqa: E402

PY = sys.executable
MODEL_SIGNING = str(Path(sys.executable).parent / "model_signing")
OURS = [PY, "-m", "diabetes_risk_model"]
MiB = 1 << 20


def run(cmd: Sequence[str]) -> tuple[float, int]:
    """Wall time and max RSS (bytes) of one process; it must succeed."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[:4]} failed ({proc.returncode}): {err.strip()[-300:]}")
    return elapsed, usage.ru_maxrss * 1024


def rounds(contenders: dict[str, tuple[Sequence[str], Path | None]], repeat: int) -> dict[str, list[tuple[float, int]]]:
    """Run every contender once per round, in turn, for *repeat* rounds (interleaved, so a slow spell of a shared
    machine falls on all of them alike). A contender's *fresh* output is removed before each of its runs, so every
    run writes a new file instead of replacing (and freeing) the previous round's."""
    results: dict[str, list[tuple[float, int]]] = {label: [] for label in contenders}
    for _ in range(repeat):
        for label, (cmd, fresh) in contenders.items():
            if fresh is not None:
                if fresh.is_dir():
                    shutil.rmtree(fresh)
                fresh.unlink(missing_ok=True)
            results[label].append(run(cmd))
    return results


def summary(results: list[tuple[float, int]]) -> tuple[float, float, int]:
    """Best time, median time and highest max RSS of one contender's runs."""
    times = sorted(t for t, _ in results)
    return times[0], times[len(times) // 2], max(r for _, r in results)


def plain_sha256(path: Path) -> str:
    sha = hashlib.sha256()
    view = memoryview(bytearray(CHUNK_SIZE))
    with open(path, "rb") as stream:
        while n := stream.readinto(view):
            sha.update(view[:n])
    return sha.hexdigest()


def write_artifact(path: Path, size: int) -> None:
    block = os.urandom(CHUNK_SIZE)
    with open(path, "wb") as out:
        for i in range(size // CHUNK_SIZE):
            out.write(block[i % 251 :] + block[: i % 251])
        out.write(os.urandom(size % CHUNK_SIZE))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=parse_size, default=1 << 30, help="model size (default 1GiB)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per contender; the best time is used")
    parser.add_argument("--workdir", type=Path, help="where to write the files (default: a temp dir)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        root = Path(tmp)
        model_dir = root / "model"
        model_dir.mkdir()
        artifact = model_dir / "model.pkl"
        write_artifact(artifact, args.size)
        key = Key.generate("bench", "ecdsa-p256")
        ring = Keyring([key]).save(root / "ring.json")
        public = Keyring([key]).public().save(root / "public.json")
        assert key.private is not None
        (root / "key.pem").write_bytes(key.private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
        (root / "pub.pem").write_bytes(key.public_pem())
        plain_sha256(artifact)  # warm the page cache for everyone

        base_ours = run([*OURS, "--help"])[1]
        base_ms = run([MODEL_SIGNING, "--help"])[1]
        out = root / "out"
        package = out / "diabetes_risk_model-0.1.0-bench.zip"
        sig = root / "model.sig"
        sign_ours_cmd = [*OURS, "sign", "--keyring", str(ring), "--model", str(artifact), "--output-dir", str(out)]
        sign_ours_cmd += ["--parameters-version", "bench", "--sequence", "1", "--requirement", "python=3.11"]
        ms_key = ["--private_key", str(root / "key.pem")]
        ms_pub = ["--public_key", str(root / "pub.pem")]
        times = rounds(
            {
                "sign ours": (sign_ours_cmd, out),
                "sign ms": ([MODEL_SIGNING, "sign", "key", str(model_dir), *ms_key, "--signature", str(sig)], sig),
                "verify ours": ([*OURS, "verify", str(package), "--keyring", str(public)], None),
                "verify ms": ([MODEL_SIGNING, "verify", "key", str(model_dir), "--signature", str(sig), *ms_pub], None),
                "verify-oms": (
                    [
                        *OURS,
                        "verify-oms",
                        str(model_dir),
                        "--signature",
                        str(sig),
                        "--public-key",
                        str(root / "pub.pem"),
                    ],
                    None,
                ),
            },
            args.repeat,
        )
        sign_ours, sign_ms = summary(times["sign ours"]), summary(times["sign ms"])
        verify_ours, verify_ms, verify_oms = (summary(times[k]) for k in ("verify ours", "verify ms", "verify-oms"))
        keyring = Keyring.load(public)
        sha_times, verify_times = [], []
        for _ in range(args.repeat):
            start = time.perf_counter()
            plain_sha256(package)
            sha_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            verify_package(package, keyring, capture_model=False)
            verify_times.append(time.perf_counter() - start)

    size = args.size
    load = os.getloadavg()
    print(
        f"model: {size / MiB:.0f} MiB; {args.repeat} interleaved rounds; page cache warm; load average {load[0]:.1f} "
        f"{load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} CPUs"
    )
    rows = [
        ("sign   ours (oms-v1 zip)", sign_ours, base_ours),
        ("sign   model_signing", sign_ms, base_ms),
        ("verify ours (zip)", verify_ours, base_ours),
        ("verify model_signing", verify_ms, base_ms),
        ("verify-oms ours (ms sig)", verify_oms, base_ours),
    ]
    for label, (fastest, median, rss), base in rows:
        growth = (rss - base) / MiB
        print(
            f"{label:26s} best {fastest:5.2f} s  median {median:5.2f} s  {size / MiB / fastest:6.0f} MiB/s  "
            f"max RSS {rss / MiB:6.1f} MiB (startup {base / MiB:6.1f}, growth {growth:6.1f})"
        )
    sign_ratio, sign_median = sign_ours[0] / sign_ms[0], sign_ours[1] / sign_ms[1]
    verify_speedup, verify_median = verify_ms[0] / verify_ours[0], verify_ms[1] / verify_ours[1]
    inproc = min(sha_times) / min(verify_times)
    print(
        f"sign time ours/model_signing:      {sign_ratio:.2f}x  "
        f"(goal <= 1.0: {'PASS' if sign_ratio <= 1.0 else 'MISS'}; medians {sign_median:.2f}x)"
    )
    print(
        f"verify speed-up vs model_signing:  {verify_speedup:.2f}x  "
        f"(goal >= 1.3: {'PASS' if verify_speedup >= 1.3 else 'MISS'}; medians {verify_median:.2f}x)"
    )
    print(f"in-process verify / hashlib.sha256: {inproc:.3f}  (goal >= 0.95: {'PASS' if inproc >= 0.95 else 'MISS'})")
    for label, (_, _, rss), base in rows[:1] + rows[2:3]:
        growth = (rss - base) / MiB
        print(f"peak RSS growth, {label}: {growth:.1f} MiB (goal <= 64: {'PASS' if growth <= 64 else 'MISS'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
