"""The service configuration file: rest_model_service's schema plus our top-level ``docs`` setting.

The file is read with ``yaml.safe_load`` (rest_model_service's own ``main`` module uses ``yaml.full_load``,
which constructs arbitrary Python tags); every problem is one :class:`ConfigurationError` naming the file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import yaml
from pydantic import Field, ValidationError
from rest_model_service.configuration import ServiceConfiguration

from diabetes_risk_model.errors import ConfigurationError


class ServiceSettings(ServiceConfiguration):
    """The engine's configuration (``service_title``, ``models``, ``metrics``, ``logging``...) plus ``docs``."""

    docs: bool = Field(
        default=True,
        description="Serve /docs (Swagger UI) and /redoc (ReDoc). Their scripts and styles are served by the "
        "service itself (from the fastapi-offline package), so the pages make no request elsewhere.",
    )


def settings_of(configuration: ServiceConfiguration) -> ServiceSettings:
    """*configuration* as :class:`ServiceSettings` (an engine configuration gets the defaults of ours)."""
    if isinstance(configuration, ServiceSettings):
        return configuration
    return ServiceSettings(**configuration.model_dump())


def load_configuration(path: str | os.PathLike[str]) -> ServiceSettings:
    """Read a service configuration with ``yaml.safe_load``; any problem is a :class:`ConfigurationError`."""
    file_path = Path(path)
    try:
        text = file_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read service configuration {file_path}: {exc.strerror}", path=str(file_path)
        ) from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        message = f"service configuration {file_path} is not valid YAML{where}"
        raise ConfigurationError(message, path=str(file_path)) from None
    if not isinstance(document, Mapping):
        raise ConfigurationError(f"service configuration {file_path} must be a mapping", path=str(file_path))
    try:
        return ServiceSettings(**document)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigurationError(
            f"service configuration {file_path} is invalid: {problems}", path=str(file_path)
        ) from None
