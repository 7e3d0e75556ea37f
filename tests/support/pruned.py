"""What the service image leaves out: the distributions ``service_requirements.prune`` lists."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def pruned() -> list[str]:
    """The pruned distributions' names, normalised (PEP 503: lower case, runs of ``-_.`` as one ``-``)."""
    lines = [line.split("#", 1)[0].strip() for line in (REPO / "service_requirements.prune").read_text().splitlines()]
    return [re.sub(r"[-_.]+", "-", line).lower() for line in lines if line]
