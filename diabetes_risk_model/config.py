"""Settings that name secrets instead of holding them.

Configuration files in ``configuration/`` never contain a key or a password:
a value written ``${NAME}`` stands for the environment variable ``NAME``.
This module turns such values into real ones at the moment they are needed,
and fails with :class:`MissingEnvironmentVariable` (which names the
variable, never a value) when one is not set.

Only whole values are placeholders (``"${MINIO_SECRET_KEY}"``); text that
merely contains ``${`` somewhere is left alone, so a password may contain
those characters.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from diabetes_risk_model.errors import ConfigurationError, MissingEnvironmentVariable

_PLACEHOLDER = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def placeholder_name(value: object) -> str | None:
    """Return ``NAME`` if *value* is exactly ``${NAME}``, else ``None``."""
    if not isinstance(value, str):
        return None
    match = _PLACEHOLDER.match(value.strip())
    return match.group(1) if match else None


def expand_env(value: Any, environ: Mapping[str, str] | None = None) -> Any:
    """Replace a ``${NAME}`` value with the environment variable ``NAME``.

    Any other value (including non-strings and ``None``) is returned as is.
    """
    name = placeholder_name(value)
    if name is None:
        return value
    env = os.environ if environ is None else environ
    if name not in env:
        raise MissingEnvironmentVariable(name)
    return env[name]


def expand_settings(settings: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Expand every ``${NAME}`` value in a (possibly nested) mapping."""

    def expand(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {key: expand(item) for key, item in value.items()}
        if isinstance(value, list):
            return [expand(item) for item in value]
        return expand_env(value, environ)

    return {key: expand(value) for key, value in settings.items()}


def parse_bool(value: object, setting: str) -> bool:
    """Read a boolean setting written as a bool or as true/false, yes/no, 1/0, on/off."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigurationError(f"{setting} must be true or false", setting=setting)


def env_setting(name: str, default: str | None = None, environ: Mapping[str, str] | None = None) -> str | None:
    """Read one environment variable, treating an empty value as unset."""
    env = os.environ if environ is None else environ
    value = env.get(name, "")
    return value if value != "" else default
