"""A real Kubernetes node for the control plane of control_plane.py: containerd, the kubelet and CoreDNS.

Built by scripts/build_control_plane.sh (kubelet), scripts/build_node.sh (CoreDNS; containerd 1.6.20, runc and the
CNI plugins from Debian). Everything the node writes lives under ``root``; nothing else on the machine changes:
- containerd and the kubelet run in a private mount namespace (``unshare --mount``) where /run, /var/lib and
  /var/log are the node's own (containerd 1.6 and libcni hard-code paths there), and where the three kernel
  settings the kubelet checks (``protectKernelDefaults``) are files of ours mounted read-only over /proc/sys: the
  kubelet never writes this machine's kernel settings. Every mount, network namespace included, goes with it.
- the pod network is a bridge of ours with a CNI ``bridge`` config (host-local IPAM, ``isGateway: false``, no
  masquerading): pods reach each other and the bridge's own address, nothing is forwarded, no NAT, and the
  kubelet's ``makeIPTablesUtilChains: false`` keeps it off the host's iptables.
- CoreDNS answers the cluster's names on the bridge's address. There is no kube-proxy (it would program the host's
  iptables), so ClusterIP addresses lead nowhere: Services the pods use are headless, DNS gives their ready pods.
:class:`HostState` records what could leak (links, routes, iptables rules, kernel settings, mounts, network
namespaces, processes, cgroups); the session fixture compares it before and after.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.kube.control_plane import BIN, TOOLS, ControlPlane, ControlPlaneError, Supervisor, free_port
from tests.kube.images import Image, pause_image

BUILD_HINT = "run: make control-plane (scripts/build_control_plane.sh, scripts/build_node.sh)"
BRIDGE = "drmkn0"
CLUSTER_DOMAIN = "cluster.local"
# protectKernelDefaults: the kubelet refuses to start unless these read as it wants them.
KERNEL_DEFAULTS = {"vm/overcommit_memory": "1", "kernel/panic": "10", "kernel/panic_on_oops": "1"}
WATCHED_SYSCTLS = (*KERNEL_DEFAULTS, "net/ipv4/ip_forward", "net/ipv4/conf/all/forwarding")
# Mounts the node makes in its own namespace; one of them on the host would be a leak.
NODE_MOUNT = re.compile(r"/run/containerd|/var/lib/kubelet|/var/lib/cni|/var/log/containers|/run/netns|drm-node")


def _tool(path: Path, what: str) -> Path:
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise ControlPlaneError(f"{what} not found at {path}; {BUILD_HINT}")
    return path


def _system_tool(name: str) -> Path:
    found = shutil.which(name)
    if not found:
        raise ControlPlaneError(f"{name} is not installed; as root: bash scripts/install_system_packages.sh")
    return Path(found)


def _run(*command: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(list(command), capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise ControlPlaneError(f"{' '.join(command)} failed ({result.returncode}): {result.stderr.strip()}")
    return result


def _pod_subnet() -> str:
    """The first 10.244.N.0/24 no route of this machine covers (the pod network is ours alone)."""
    routes = _run("ip", "-4", "route", "show", "table", "all").stdout
    for third in range(0, 250):
        prefix = f"10.244.{third}"
        if f"{prefix}." not in routes:
            return prefix
    raise ControlPlaneError("no free 10.244.N.0/24 for the pod network")


@dataclass(frozen=True)
class HostState:
    """What the node could change on the machine if it leaked anything outside its namespaces and its root."""

    links: tuple[str, ...]
    routes: tuple[str, ...]
    iptables: tuple[str, ...]
    sysctls: tuple[tuple[str, str], ...]
    mounts: tuple[str, ...]
    netns: tuple[str, ...]
    processes: tuple[str, ...]
    cgroups: tuple[str, ...]

    @classmethod
    def read(cls) -> HostState:
        links = tuple(sorted(line.split(":")[1].strip().split("@")[0] for line in _lines("ip", "-o", "link", "show")))
        rules: list[str] = []
        for tool in ("iptables-save", "ip6tables-save"):
            if shutil.which(tool):
                rules += [line for line in _lines(tool) if line.startswith(("-A", "-N", "-I", ":"))]
        counters = re.compile(r"\[\d+:\d+\]")
        sysctls = tuple(
            (name, Path("/proc/sys", name).read_text().strip())
            for name in WATCHED_SYSCTLS
            if Path("/proc/sys", name).exists()
        )
        points = (line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines())
        mounts = tuple(sorted(point for point in points if NODE_MOUNT.search(point)))
        netns = tuple(sorted(os.listdir("/run/netns"))) if Path("/run/netns").is_dir() else ()
        processes = tuple(sorted(_node_processes()))
        cgroups = tuple(sorted(str(p) for p in Path("/sys/fs/cgroup").glob("*/k8s.io*")))
        return cls(
            links=links,
            routes=tuple(sorted(_lines("ip", "route", "show", "table", "all"))),
            iptables=tuple(sorted(counters.sub("[]", rule) for rule in rules)),
            sysctls=sysctls,
            mounts=mounts,
            netns=netns,
            processes=processes,
            cgroups=cgroups,
        )

    def differences(self, later: HostState) -> list[str]:
        found = []
        for name in self.__dataclass_fields__:
            before, after = set(getattr(self, name)), set(getattr(later, name))
            if before != after:
                found.append(f"{name}: added {sorted(after - before)}, removed {sorted(before - after)}")
        return found


def _lines(*command: str) -> list[str]:
    return [line for line in _run(*command).stdout.splitlines() if line.strip()]


def _node_processes() -> list[str]:
    """Processes of a node: containerd, its shims, the kubelet, CoreDNS, and anything in a pod's cgroup."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            cgroup = (entry / "cgroup").read_text()
        except OSError:
            continue
        if re.search(r"containerd-shim|/kubelet |kubenode|/coredns ", command + " ") or "/k8s.io/" in cgroup:
            found.append(f"{entry.name} {command[:120]}")
    return found


@dataclass
class Node(Supervisor):
    """One node named ``plane.node_name``: containerd, the kubelet and CoreDNS, under ``root``."""

    root: Path
    plane: ControlPlane
    kubelet_port: int = field(default_factory=free_port)
    kubelet_healthz_port: int = field(default_factory=free_port)
    pod_net: str = field(default_factory=_pod_subnet)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def dns(self) -> str:
        return f"{self.pod_net}.1"

    @property
    def socket(self) -> Path:
        return self.root / "containerd" / "containerd.sock"

    def ctr(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return _run(str(_system_tool("ctr")), "--address", str(self.socket), "-n", "k8s.io", *args, check=check,
                    timeout=timeout)  # fmt: skip

    def import_image(self, image: Image) -> None:
        self.ctr("images", "import", "--no-unpack", str(image.archive))

    def images(self) -> set[str]:
        return set(self.ctr("images", "list", "-q").stdout.split())

    def start(self) -> Node:
        kubelet = _tool(BIN / "kubelet", "the kubelet")
        coredns = _tool(TOOLS / "bin" / "coredns", "CoreDNS")
        for tool in ("containerd", "ctr", "runc", "unshare", "nsenter", "ip"):
            _system_tool(tool)
        if not Path("/usr/lib/cni/bridge").is_file():
            raise ControlPlaneError("the CNI plugins are not in /usr/lib/cni; bash scripts/install_system_packages.sh")
        if _run("ip", "link", "show", BRIDGE, check=False).returncode == 0:
            raise ControlPlaneError(f"a link named {BRIDGE} exists already (a node of another run?)")
        for sub in ("logs", "containerd", "cni/net.d", "cni/ipam", "kernel", "varlog", "pod-logs", "kubelet"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        try:
            started = time.monotonic()
            self._network()
            self._containerd()
            self.import_image(pause_image(self.root / "images"))
            self._coredns(coredns)
            self._node_role()
            kubelet_started = time.monotonic()
            self._kubelet(kubelet)
            self.wait_ready()
            self.timings["kubelet start to node Ready (s)"] = time.monotonic() - kubelet_started
            self.timings["node start to Ready (s)"] = time.monotonic() - started
        except BaseException:
            self.stop()
            raise
        return self

    def _network(self) -> None:
        _run("ip", "link", "add", BRIDGE, "type", "bridge")
        _run("ip", "addr", "add", f"{self.pod_net}.1/24", "dev", BRIDGE)
        _run("ip", "link", "set", BRIDGE, "up")
        config = {
            "cniVersion": "1.0.0",
            "name": "drm-node",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": BRIDGE,
                    "isGateway": False,
                    "ipMasq": False,
                    "hairpinMode": True,
                    "ipam": {
                        "type": "host-local",
                        "dataDir": str(self.root / "cni" / "ipam"),
                        "ranges": [[{"subnet": f"{self.pod_net}.0/24", "rangeStart": f"{self.pod_net}.10"}]],
                    },
                }
            ],
        }
        (self.root / "cni" / "net.d" / "10-drm-node.conflist").write_text(json.dumps(config))

    def _containerd(self) -> None:
        ctd = self.root / "containerd"
        (ctd / "config.toml").write_text(
            f"""version = 2
root = "{ctd / "root"}"
state = "{ctd / "state"}"
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]
[grpc]
  address = "{self.socket}"
[ttrpc]
  address = "{self.socket}.ttrpc"
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/pause:drm"
  restrict_oom_score_adj = true
  disable_hugetlb_controller = true
  tolerate_missing_hugetlb_controller = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "{_system_tool("runc")}"
        Root = "{ctd / "runc"}"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{self.root / "cni" / "net.d"}"
"""
        )
        kernel = self.root / "kernel"
        binds = []
        for name, value in KERNEL_DEFAULTS.items():
            file = kernel / name.replace("/", "_")
            file.write_text(value + "\n")
            binds.append(f"mount --bind -o ro {file} /proc/sys/{name}")
        script = "\n".join(
            [
                "set -e",
                "mount --make-rprivate /",
                "mount -t tmpfs -o mode=755 drm-node-run /run",
                "mount -t tmpfs -o mode=755 drm-node-varlib /var/lib",
                "mkdir -p /var/lib/cni",
                f"mount --bind {self.root / 'varlog'} /var/log",
                *binds,
                f"exec containerd --config {ctd / 'config.toml'}",
            ]
        )
        (self.root / "namespace.sh").write_text(script + "\n")
        namespace = ["unshare", "--mount", "--propagation", "private", "sh", str(self.root / "namespace.sh")]
        self._spawn("containerd", namespace)
        self._wait("containerd", lambda: self.ctr("version", check=False, timeout=10).returncode == 0, 30)

    def _coredns(self, coredns: Path) -> None:
        corefile = self.root / "Corefile"
        corefile.write_text(
            f""".:53 {{
    bind {self.dns}
    errors
    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
        kubeconfig {self.plane.kubeconfig} drm-test
        pods insecure
        ttl 2
    }}
}}
"""
        )
        self._spawn("coredns", [str(coredns), "-conf", str(corefile)])
        self._wait("coredns", self._dns_answers, 30)

    def _dns_answers(self) -> bool:
        query = bytes.fromhex("abcd01000001000000000000") + b"\x0akubernetes\x07default\x03svc\x07cluster\x05local\x00"
        query += b"\x00\x01\x00\x01"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(1)
            try:
                sock.sendto(query, (self.dns, 53))
                answer = sock.recv(512)
            except OSError:
                return False
        return answer[:2] == b"\xab\xcd" and answer[3] & 0x0F == 0  # our id, rcode NOERROR

    def _node_role(self) -> None:
        """The ``system:node`` role for the node's group, beside the Node authorizer.

        The Node authorizer lets a kubelet read a pod's Secrets and ConfigMaps only once its graph links the pod to
        the node, which lags the scheduler by a moment; a kubelet that asks first is denied and reports
        FailedMount ("no relationship found between node ... and this object") before it retries. RBAC's
        ``system:node`` role answers instead when the graph has no opinion yet.
        """
        binding = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "drm-test-nodes"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:node"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:nodes"}],
        }
        self.plane.kubectl("apply", "-f", "-", input=json.dumps(binding))

    def _kubelet(self, kubelet: Path) -> None:
        config = f"""apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: {self.kubelet_port}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: {self.kubelet_healthz_port}
containerRuntimeEndpoint: unix://{self.socket}
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
protectKernelDefaults: true
makeIPTablesUtilChains: false
clusterDNS: [{self.dns}]
clusterDomain: {CLUSTER_DOMAIN}
resolvConf: ""
podLogsDir: {self.root / "pod-logs"}
authentication:
  anonymous: {{enabled: false}}
  webhook: {{enabled: true}}
  x509: {{clientCAFile: {self.plane.root / "pki" / "ca.crt"}}}
authorization: {{mode: Webhook}}
evictionHard: {{memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
maxPods: 30
serializeImagePulls: false
# Volumes read their ConfigMaps and Secrets straight from the API server, with no watch to sync first.
configMapAndSecretChangeDetectionStrategy: Get
"""
        (self.root / "kubelet.yaml").write_text(config)
        containerd = self.processes["containerd"].pid
        self._spawn(
            "kubelet",
            [
                "nsenter",
                f"--target={containerd}",
                "--mount",
                "--",
                str(kubelet),
                f"--config={self.root / 'kubelet.yaml'}",
                f"--kubeconfig={self.plane.node_kubeconfig}",
                f"--root-dir={self.root / 'kubelet'}",
                f"--hostname-override={self.plane.node_name}",
                "--v=1",
            ],
        )

    def ready(self) -> bool:
        result = self.plane.kubectl("get", "node", self.plane.node_name, "-o", "json", check=False, timeout=10)
        if result.returncode != 0:
            return False
        conditions = json.loads(result.stdout)["status"].get("conditions", [])
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    def wait_ready(self, timeout: float = 120) -> None:
        self._wait("kubelet", self.ready, timeout)

    def stop(self) -> None:
        """Pods, kubelet, containers, containerd, CoreDNS, bridge: gone, whether the tests passed or not."""
        kubelet = self.processes.get("kubelet")
        if kubelet is not None and kubelet.poll() is None:
            # The kubelet tears the pods down (CNI DEL, unmounts, cgroups) before it goes.
            self.plane.kubectl("delete", "deployments,statefulsets,jobs", "--all", "-A", "--timeout=60s", check=False)
            self.plane.kubectl(
                "delete", "pods", "--all", "-A", "--grace-period=2", "--timeout=90s", check=False, timeout=120
            )
        self._stop("kubelet")
        if "containerd" in self.processes and self.ctr("version", check=False, timeout=10).returncode == 0:
            for task in self.ctr("tasks", "list", "-q", check=False).stdout.split():
                self.ctr("tasks", "kill", "--signal", "SIGKILL", task, check=False)
            time.sleep(1)
            for container in self.ctr("containers", "list", "-q", check=False).stdout.split():
                self.ctr("tasks", "delete", "--force", container, check=False)
                self.ctr("containers", "delete", container, check=False)
        self._stop("containerd")
        # Shims outlive containerd; ours are the ones serving our socket.
        for line in _node_processes():
            pid, command = line.split(" ", 1)
            if "containerd-shim" in command and str(self.socket) in command:
                os.kill(int(pid), signal.SIGKILL)
        self._stop("coredns")
        _run("ip", "link", "delete", BRIDGE, check=False)
        time.sleep(0.5)
        for parent in Path("/sys/fs/cgroup").glob("*/k8s.io"):  # runc's parent cgroups, once empty
            for child in sorted(parent.glob("**/"), key=lambda p: -len(p.parts)):
                with contextlib.suppress(OSError):
                    child.rmdir()
