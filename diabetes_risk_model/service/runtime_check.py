"""Can this environment serve? Import everything the service runs and every name an admitted pickle may use.

The service image installs only what the service imports (``service_requirements.prune`` lists what it leaves
out of pycaret's declared dependencies), so ``pip check`` would report those as missing. This check is the
image's real one, run at build time (Dockerfile) and by anyone on a host:

    python -m diabetes_risk_model.service.runtime_check

1. Import every module of the packages the service runs (service, prediction, signing, storage, unpickling), the ASGI
   server with its fast loops, and the package that ships the /docs and /redoc assets.
2. Import the module of every name in :mod:`diabetes_risk_model.unpickling` and resolve the name,
   so any pipeline the unpickler admits (every model family training can pick) finds its classes.

Exit 0 with one summary line; exit 1 with one line naming the first module that cannot be imported.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

from diabetes_risk_model.errors import MissingRuntimeDependency

SERVICE_PACKAGES = (
    "diabetes_risk_model.service",
    "diabetes_risk_model.prediction",
    "diabetes_risk_model.signing",
    "diabetes_risk_model.storage",
    "diabetes_risk_model.unpickling",
)
SERVER_MODULES = ("uvicorn", "uvloop", "httptools", "fastapi_offline")


def _import(module: str) -> object:
    try:
        return importlib.import_module(module)
    except ImportError as exc:  # ModuleNotFoundError included
        raise MissingRuntimeDependency(module, str(exc)) from None


def service_modules() -> list[str]:
    """Every module of :data:`SERVICE_PACKAGES` (this one excepted) and :data:`SERVER_MODULES`."""
    names: list[str] = []
    for package in SERVICE_PACKAGES:
        path = _import(package).__path__  # type: ignore[attr-defined]
        names.append(package)
        names += [f"{package}.{info.name}" for info in pkgutil.iter_modules(path) if info.name != "__main__"]
    return [name for name in names if name != __name__] + list(SERVER_MODULES)


def check() -> tuple[int, int]:
    """Run both steps; returns (modules imported, pickle names resolved). Raises MissingRuntimeDependency."""
    from diabetes_risk_model.unpickling import ALLOWED_NAMES, GRAPH_CALLABLES, LOADED_TYPES

    # 1. the service's own code and its server
    modules = service_modules()
    for module in modules:
        _import(module)
    # 2. every name an admitted pickle may name
    pairs = sorted(ALLOWED_NAMES | GRAPH_CALLABLES | LOADED_TYPES)
    for module, qualname in pairs:
        target: object = _import(module)
        for part in qualname.split("."):
            if not hasattr(target, part):
                raise MissingRuntimeDependency(f"{module}.{qualname}", f"{module} has no {part!r}")
            target = getattr(target, part)
    return len(modules), len(pairs)


def main() -> int:
    try:
        modules, names = check()
    except MissingRuntimeDependency as exc:
        print(f"runtime-check: error: {exc}", file=sys.stderr)
        return 1
    print(f"runtime-check: ok ({modules} service modules, {names} pickle names)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
