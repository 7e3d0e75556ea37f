"""`make notebook` serves the training notebook, and it runs in fast mode through a kernel of that server.

The server is the one `make notebook` starts (JupyterLab on 127.0.0.1, the project's kernel, a token), on a
free port, serving a temporary folder holding a copy of the notebook. The notebook is opened through the
server's contents API, parameterised the way papermill does for `make reproduce` (fast mode, a 3,000-row
sample, no upload), run cell by cell through a kernel the server started (kernels API and websocket), saved
back through the contents API and read again: it holds pycaret's compare and tune tables and the plots as
PNG images. Its HTML rendering (`make reproduce` writes one next to the executed notebook) shows the plots
inline and loads nothing from anywhere else.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from nbconvert import HTMLExporter
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook

from diabetes_risk_model.signing import Key, Keyring
from diabetes_risk_model.training.html import render_html
from tests.support.jupyter_server import JupyterServer, run_on_kernel

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "diabetes_risk_model_training.ipynb"
KERNEL_NAME = "diabetes-risk-model"  # the kernel `make notebook` registers under the venv
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _text(notebook: nbformat.NotebookNode) -> str:
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append("".join(output.get("text", "")))
            parts.extend(v for k, v in output.get("data", {}).items() if k.startswith("text/"))
    return "\n".join(parts)


def _pngs(notebook: nbformat.NotebookNode) -> list[bytes]:
    return [base64.b64decode(output["data"]["image/png"]) for cell in notebook.cells
            for output in cell.get("outputs", []) if "image/png" in output.get("data", {})]  # fmt: skip


@pytest.fixture(scope="module")
def executed(diabetes_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict, Path]]:
    """The notebook after a fast run through the server's kernel, as the contents API returns it."""
    tmp = tmp_path_factory.mktemp("notebook-server")
    root, home = tmp / "root", tmp / "home"
    root.mkdir()
    home.mkdir()
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    ring = tmp / "signing_keyring.json"
    Keyring([Key.generate("notebook-server-test", "ecdsa-p256")]).save(ring)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "MINIO_", "PARAMETERS_SIGNING"))},
        "HOME": str(home),  # no user config, kernels or runtime files of the developer's
        "DIABETES_DATA": str(diabetes_csv),
        "MODEL_KEYRING": str(ring),
        "MPLBACKEND": "Agg",
        "PYCARET_CUSTOM_LOGGING_PATH": str(tmp / "pycaret.log"),
    }
    server = JupyterServer(REPO, root, _free_port(), env, tmp / "jupyter.log").start()
    try:
        assert server.base == f"http://127.0.0.1:{server.port}"
        assert KERNEL_NAME in server.api("GET", "/api/kernelspecs")["kernelspecs"]
        opened = server.api("GET", f"/api/contents/{NOTEBOOK.name}?type=notebook&content=1")
        assert opened["type"] == "notebook"
        fast = {"mode": "fast", "sample_rows": 3000, "output_dir": str(tmp / "run"), "upload": False}
        fetched = tmp / "fetched.ipynb"  # what the contents API returned, through papermill's loader
        fetched.write_text(json.dumps(opened["content"]))
        notebook = parameterize_notebook(load_notebook_node(str(fetched)), fast)
        kernel = server.api("POST", "/api/kernels", {"name": KERNEL_NAME})
        try:
            run_on_kernel(server, notebook, kernel["id"])
        finally:
            server.api("DELETE", f"/api/kernels/{kernel['id']}")
        name = "executed.ipynb"
        server.api("PUT", f"/api/contents/{name}", {"type": "notebook", "format": "json", "content": notebook})
        saved = server.api("GET", f"/api/contents/{name}?type=notebook&content=1")["content"]
        yield saved, root / name
    finally:
        server.stop()
    assert server.process is not None and server.process.poll() is not None


def test_make_notebook_runs_the_notebook_through_its_kernel(executed: tuple[dict, Path]) -> None:
    notebook = nbformat.from_dict(executed[0])
    assert notebook.metadata["papermill"]["parameters"]["mode"] == "fast"
    text = _text(notebook)
    assert "Gradient Boosting Classifier" in text and "Logistic Regression" in text  # compare table
    assert "Mean" in text and "Std" in text  # create/tune CV tables
    assert "one byte appended" in text and "BadSignature" in text
    images = _pngs(notebook)
    assert images and all(image.startswith(PNG_SIGNATURE) for image in images)


class _Loads(HTMLParser):
    """Every URL the page would fetch: script src, link href (stylesheets, icons), img/source/iframe src."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.images = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in ("script", "img", "iframe", "source", "embed") and values.get("src"):
            self.urls.append(str(values["src"]))
        if tag == "link" and values.get("href"):
            self.urls.append(str(values["href"]))
        if tag == "img" and str(values.get("src", "")).startswith("data:image/png;base64,"):
            self.images += 1


def test_html_rendering_is_self_contained_with_the_plots_inline(executed: tuple[dict, Path]) -> None:
    page = render_html(executed[1])
    assert page == executed[1].with_suffix(".html")
    html = page.read_text()
    loads = _Loads()
    loads.feed(html)
    assert [url for url in loads.urls if not url.startswith("data:")] == []
    assert "url(http" not in html.replace(" ", "") and "@import" not in html
    assert loads.images == len(_pngs(nbformat.from_dict(executed[0]))) > 0
    assert "Gradient Boosting Classifier" in html
    # Control: nbconvert's stock lab template loads scripts from a CDN, which the rendering leaves out.
    stock, _ = HTMLExporter(template_name="lab").from_notebook_node(nbformat.from_dict(executed[0]))
    control = _Loads()
    control.feed(stock)
    assert [url for url in control.urls if url.startswith("https://")]


def test_html_rendering_of_a_missing_notebook_names_it(tmp_path: Path) -> None:
    from diabetes_risk_model.errors import DataError

    with pytest.raises(DataError, match=r"notebook not found at .*absent\.ipynb"):
        render_html(tmp_path / "absent.ipynb")
    (tmp_path / "plain.ipynb").write_text(json.dumps({"not": "a notebook"}))
    with pytest.raises(DataError, match=r"plain\.ipynb is not a notebook"):
        render_html(tmp_path / "plain.ipynb")
