"""The entry point: unpickle verified bytes, then check the object before anyone may use it."""

from __future__ import annotations

from typing import Any

from diabetes_risk_model.errors import DiabetesRiskModelError, PickleLimitExceeded, VerificationError
from diabetes_risk_model.unpickling._graph import check_object_graph
from diabetes_risk_model.unpickling._policy import PickleLimits
from diabetes_risk_model.unpickling._structure import check_structure
from diabetes_risk_model.unpickling._unpickler import RestrictedUnpickler
from diabetes_risk_model.unpickling._view_reader import ViewReader
from diabetes_risk_model.unpickling._wiring import check_wiring


def restricted_loads(data: bytes | memoryview, *, limits: PickleLimits | None = None) -> Any:
    """Unpickle *data* through :class:`RestrictedUnpickler` (state checked before native code sees it), then
    check the object graph (:mod:`._graph`), its structure (:mod:`._structure`) and its wiring
    (:mod:`._wiring`) before returning it.

    Refusals raise :class:`~diabetes_risk_model.errors.UnsafePickle`,
    :class:`~diabetes_risk_model.errors.PickleRefused`, :class:`~diabetes_risk_model.errors.UnsafeObjectGraph`
    or :class:`~diabetes_risk_model.errors.UnsafeModelState`; any other failure while loading (corrupt stream, an
    allowed constructor rejecting its state) becomes a :class:`VerificationError` naming only the exception
    type, never the bytes.
    """
    limits = limits or PickleLimits()
    view = memoryview(data).cast("B")
    try:
        unpickler = RestrictedUnpickler(ViewReader(view), limits=limits)
        loaded = unpickler.load()
        inventory = check_object_graph(loaded, limits)
        check_structure(inventory, limits)
        check_wiring(loaded, inventory, unpickler.gate.boosters)
    except DiabetesRiskModelError:
        raise
    except RecursionError:
        raise PickleLimitExceeded("pickle stream nests deeper than the interpreter allows", limit="depth") from None
    except Exception as exc:  # anything an untrusted stream can trigger
        raise VerificationError(f"pickle could not be loaded safely ({type(exc).__name__})") from None
    return loaded
