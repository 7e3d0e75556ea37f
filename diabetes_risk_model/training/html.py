"""The executed notebook as one self-contained HTML page (``make reproduce`` writes it next to the ``.ipynb``).

python -m diabetes_risk_model.training.html output/notebook/diabetes_risk_model_training.executed.ipynb

nbconvert's JupyterLab template, with the plots inline as ``data:`` URIs and without the three scripts it
would otherwise load from a CDN (RequireJS, MathJax, Mermaid; the notebook uses none of them): the page
opens offline and makes no request anywhere. Needs nbconvert (the dev requirements, with JupyterLab).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from diabetes_risk_model.errors import DataError

# Extends the lab template and empties the blocks that emit <script src="https://...">.
OFFLINE_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""


def render_html(executed: Path, destination: Path | None = None) -> Path:
    """Write *executed* (an ``.ipynb`` with outputs) as HTML to *destination* (default: same name, ``.html``).

    Raises :class:`DataError` naming the file when it is missing or not a notebook.
    """
    import jinja2
    import nbformat
    from nbconvert import HTMLExporter

    if not executed.is_file():
        raise DataError(f"notebook not found at {executed}", path=str(executed))
    try:
        notebook = nbformat.read(executed, as_version=4)
    except Exception as exc:  # nbformat raises several unrelated types for a file that is not a notebook
        raise DataError(f"{executed} is not a notebook: {exc}", path=str(executed)) from exc
    exporter = HTMLExporter(
        extra_loaders=[jinja2.DictLoader({"offline.html.j2": OFFLINE_TEMPLATE})],
        template_file="offline.html.j2",
        embed_images=True,
    )
    body, _ = exporter.from_notebook_node(notebook, resources={"metadata": {"name": executed.stem}})
    target = destination or executed.with_suffix(".html")
    target.write_text(body, encoding="utf-8")
    return target


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebook", type=Path, help="the executed notebook")
    parser.add_argument("--output", type=Path, help="the HTML file (default: next to the notebook, .html)")
    args = parser.parse_args(argv)
    try:
        target = render_html(args.notebook, args.output)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"HTML rendering: {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
