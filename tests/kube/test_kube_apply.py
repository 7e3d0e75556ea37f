"""Every manifest in kubernetes/ and the MinIO chart, admitted by a real API server and its controllers.

`kubectl apply --server-side` runs the API server's defaulting, validation and PodSecurity admission; the
ReplicaSet, StatefulSet and Job controllers then create the pods, which PodSecurity admits or refuses
(FailedCreate). Admission only: the pods that then run, become Ready and serve are
tests/kube/test_node_service.py's (these ones lack their Secrets' real values and their images' MinIO names).
"""

from __future__ import annotations

import secrets

import yaml

from tests.kube import kube_support as ks
from tests.kube.control_plane import ControlPlane

MINIO_RELEASE = "minio"


def _chart_secrets(plane: ControlPlane, namespace: str) -> None:
    """The Secrets minio_values.yaml makes the chart read (`make kube-secrets` creates them in a real session)."""
    values = yaml.safe_load((ks.KUBERNETES / "minio_values.yaml").read_text())
    wanted: dict[str, set[str]] = {}
    if values.get("existingSecret"):
        wanted.setdefault(values["existingSecret"], set()).update({"rootUser", "rootPassword"})
    for user in values.get("users") or []:
        if user.get("existingSecret"):
            wanted.setdefault(user["existingSecret"], set()).add(user["existingSecretKey"])
    for name, keys in wanted.items():
        literals = [f"--from-literal={key}={secrets.token_urlsafe(16)}" for key in sorted(keys)]
        manifest = plane.kubectl(
            "create", "secret", "generic", name, "-n", namespace, *literals, "--dry-run=client", "-o", "yaml"
        )
        plane.kubectl("apply", "--server-side", "-f", "-", input=manifest.stdout)


def test_every_manifest_and_the_minio_chart_are_admitted_without_warnings(cluster: ControlPlane) -> None:
    problems: list[str] = []
    files = ks.manifest_files()
    assert {p.name for p in ks.KUBERNETES.glob("*.y*ml")} - {p.name for p in files} == {"minio_values.yaml"}

    # 1. The namespaces, then what lives in them.
    namespace_files = [p for p in files if all(d["kind"] == "Namespace" for d in ks.documents(p))]
    for path in files:
        if path not in namespace_files:
            for ns in {d["metadata"]["name"] for f in namespace_files for d in ks.documents(f)}:
                ks.wait_for_service_account(cluster, ns)  # pods are refused until it exists
        result = ks.run(cluster, [str(cluster.kubectl_binary), "apply", "--server-side", "-f", str(path)])
        assert result.returncode == 0, f"kubectl apply --server-side -f {path.name}: {result.stderr.strip()}"
        problems += [f"{path.name}: {w}" for w in ks.warnings(result.stderr)]

    # 2. PodSecurity: the service's namespace enforces "restricted"; MinIO's at least "baseline".
    service_ns, minio_ns = ks.service_namespace(), ks.minio_namespace()
    labels = ks.get_json(cluster, "namespace", service_ns)["metadata"].get("labels", {})
    enforce = labels.get("pod-security.kubernetes.io/enforce")
    if enforce != "restricted":
        problems.append(f"namespace {service_ns} (the service's) enforces PodSecurity {enforce!r}, not 'restricted'")
    minio_labels = ks.get_json(cluster, "namespace", minio_ns)["metadata"].get("labels", {})
    if minio_labels.get("pod-security.kubernetes.io/enforce") not in ("restricted", "baseline"):
        problems.append(f"namespace {minio_ns} (MinIO's) enforces no PodSecurity level")

    # 3. The MinIO chart with our values: helm install (its post-install hook Job is applied next, by kubectl:
    #    helm would wait for that Job to complete, which needs the images tests/kube/test_node_service.py imports).
    ks.wait_for_service_account(cluster, minio_ns)
    _chart_secrets(cluster, minio_ns)
    helm, chart, values = str(ks.helm()), str(ks.minio_chart()), str(ks.KUBERNETES / "minio_values.yaml")
    result = ks.run(
        cluster,
        [helm, "install", MINIO_RELEASE, chart, "-n", minio_ns, "--values", values, "--no-hooks", "--timeout", "60s"],
    )
    assert result.returncode == 0, f"helm install: {result.stderr.strip()}"
    problems += [f"helm install: {w}" for w in ks.warnings(result.stderr)]
    hooks = ks.run(
        cluster,
        [
            helm,
            "template",
            MINIO_RELEASE,
            chart,
            "-n",
            minio_ns,
            "--values",
            values,
            "--show-only",
            "templates/post-job.yaml",
        ],
    )
    assert hooks.returncode == 0, f"helm template --show-only templates/post-job.yaml: {hooks.stderr.strip()}"
    result = ks.run(
        cluster, [str(cluster.kubectl_binary), "apply", "--server-side", "-n", minio_ns, "-f", "-"], input=hooks.stdout
    )
    assert result.returncode == 0, f"kubectl apply of the chart's post-install Job: {result.stderr.strip()}"
    problems += [f"chart post-install Job: {w}" for w in ks.warnings(result.stderr)]

    # 4. Every controller made its pods: nothing refused by PodSecurity (FailedCreate).
    workloads = [
        (
            service_ns,
            "Deployment",
            ks.the_object("Deployment")["metadata"]["name"],
            ks.the_object("Deployment")["spec"].get("replicas", 1),
        )
    ]
    for sts in ks.get_json(cluster, "statefulsets", "-n", minio_ns)["items"]:
        workloads.append((minio_ns, "StatefulSet", sts["metadata"]["name"], sts["spec"]["replicas"]))
    for job in ks.get_json(cluster, "jobs", "-n", minio_ns)["items"]:
        workloads.append((minio_ns, "Job", job["metadata"]["name"], 1))
    assert {kind for _, kind, _, _ in workloads} == {"Deployment", "StatefulSet", "Job"}, workloads
    for namespace, kind, name, count in workloads:
        refused = ks.wait_for_pods(cluster, namespace, kind, name, count)
        if refused:
            problems.append(f"{namespace} {kind}/{name}: {refused}")
    for namespace in sorted({service_ns, minio_ns}):
        problems += [f"{namespace} FailedCreate: {e}" for e in ks.events(cluster, namespace, "FailedCreate")]

    assert not problems, "the real API server found:\n" + "\n".join(dict.fromkeys(problems))
