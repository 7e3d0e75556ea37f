"""Write the service's OpenAPI contract (``service_contract.yaml``).

This is rest_model_service's ``generate_openapi`` (same arguments, same
output: ``yaml.dump(app.openapi())`` of an app whose models finished loading),
applied to *our* app rather than the engine's bare one, so that the contract
describes what clients really get: the 404 on unknown models, the 503 while
not ready. Like the engine's tool it loads the model for real, because the
prediction route only exists once the model is built; point it at a store
and a keyring that hold the package (``make contract``).

    python -m diabetes_risk_model.service.contract \
        --configuration_file configuration/rest_config.yaml --output_file service_contract.yaml

Exit status 0 on success; otherwise one readable line on stderr and a
non-zero status.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import yaml
from rest_model_service.configuration import ServiceConfiguration

from diabetes_risk_model.errors import DiabetesRiskModelError
from diabetes_risk_model.service.app import create_service


def generate_contract(configuration: ServiceConfiguration | str | os.PathLike[str]) -> dict[str, Any]:
    """The OpenAPI document of our app for *configuration* (object or YAML path), with its models loaded."""
    app = create_service(configuration, wait_for_model_creation=True)
    return app.openapi()


def render(document: dict[str, Any]) -> str:
    """The contract's text, exactly as ``generate_openapi`` writes it (``yaml.dump``, sorted keys)."""
    return str(yaml.dump(document))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate the service's OpenAPI contract.")
    parser.add_argument("--configuration_file", default="configuration/rest_config.yaml", help="service configuration")
    parser.add_argument("--output_file", default="service_contract.yaml", help="where to write the contract")
    args = parser.parse_args(argv)
    try:
        text = render(generate_contract(args.configuration_file))
    except DiabetesRiskModelError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    Path(args.output_file).write_text(text, encoding="utf-8")
    print(f"wrote {args.output_file}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
