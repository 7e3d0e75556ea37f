"""A JupyterLab server started by `make notebook`, and a notebook run cell by cell through one of its kernels.

`JupyterServer` runs `make notebook` (the target a data scientist runs) with NOTEBOOK_DIR and NOTEBOOK_PORT,
reads the URL with its token from the target's output and waits for the server's REST API. `run_on_kernel`
executes a notebook's code cells through the server's kernels API and the kernel's websocket channel
(`/api/kernels/<id>/channels`), the way JupyterLab does, and fills in the outputs with nbformat's own
`output_from_msg`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import nbformat
import websocket
from jupyter_client.jsonutil import json_default
from jupyter_client.session import Session

URL_LINE = re.compile(r"^JupyterLab: (?P<base>http://127\.0\.0\.1:\d+)/lab\?token=(?P<token>[0-9a-f]+)\s", re.M)


class JupyterServer:
    def __init__(self, repo: Path, root: Path, port: int, env: dict[str, str], log_path: Path) -> None:
        self.repo, self.root, self.port, self.env, self.log_path = repo, root, port, env, log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.base = ""
        self.token = ""

    def start(self, timeout: float = 120.0) -> JupyterServer:
        command = ["make", "--no-print-directory", "notebook", f"NOTEBOOK_DIR={self.root}",
                   f"NOTEBOOK_PORT={self.port}"]  # fmt: skip
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(command, cwd=self.repo, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"make notebook exited with {self.process.returncode}:\n{self.log()}")
            found = URL_LINE.search(self.log())
            if found:
                self.base, self.token = found["base"], found["token"]
                with contextlib.suppress(urllib.error.URLError, OSError):
                    self.api("GET", "/api/status")
                    return self
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"JupyterLab did not answer within {timeout:.0f}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def api(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.base}{path}", data=data, method=method,
                                         headers={"Authorization": f"token {self.token}",
                                                  "Content-Type": "application/json"})  # fmt: skip
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def run_on_kernel(server: JupyterServer, notebook: nbformat.NotebookNode, kernel_id: str,
                  cell_timeout: float = 900.0) -> None:  # fmt: skip
    """Execute every code cell of *notebook* in the server's kernel *kernel_id*; outputs go into the cells.

    Raises AssertionError with the traceback when a cell fails.
    """
    ws_url = server.base.replace("http://", "ws://") + f"/api/kernels/{kernel_id}/channels"
    channel = websocket.create_connection(ws_url, header=[f"Authorization: token {server.token}"],
                                          timeout=cell_timeout)  # fmt: skip
    session = Session(key=b"")
    try:
        for count, cell in enumerate((c for c in notebook.cells if c.cell_type == "code"), start=1):
            message = session.msg("execute_request", {"code": cell.source, "silent": False, "store_history": True,
                                                      "user_expressions": {}, "allow_stdin": False,
                                                      "stop_on_error": True})  # fmt: skip
            message["channel"] = "shell"
            channel.send(json.dumps(message, default=json_default))
            cell.outputs, cell.execution_count = [], count
            idle = replied = False
            while not (idle and replied):
                reply = json.loads(channel.recv())
                if reply.get("parent_header", {}).get("msg_id") != message["header"]["msg_id"]:
                    continue
                kind = reply["msg_type"]
                if kind == "execute_reply":
                    replied = True
                    content = reply["content"]
                    assert content["status"] == "ok", "\n".join(content.get("traceback", [])) + cell.source
                elif kind == "status":
                    idle = reply["content"]["execution_state"] == "idle"
                elif kind in ("stream", "display_data", "execute_result", "error"):
                    cell.outputs.append(nbformat.v4.output_from_msg(reply))
    finally:
        channel.close()
