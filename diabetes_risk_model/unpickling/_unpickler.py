"""Restricted unpickling: the last line of defence, used only after a package's signature has verified.

A signature proves who made the pickle, not that it is harmless: a leaked signing key or a poisoned training
job could still ship ``os.system``. The rule, opcode by opcode (lists in :mod:`._policy`):

1. **Imports** (``GLOBAL``, ``STACK_GLOBAL``): only the exact ``(module, name)`` pairs of
   :data:`~._policy.ALLOWED_NAMES`, checked before anything is imported. Extension codes are refused.
2. **Objects are rebuilt only the way pickle rebuilds them.** ``NEWOBJ``/``NEWOBJ_EX`` is ``cls.__new__(cls)``
   with *no* arguments, for a class of :data:`~._policy.REBUILT_CLASSES` whose ``__new__`` is
   ``object.__new__``: no constructor runs. ``REDUCE`` (a call with arguments) is admitted only for the
   reviewed :data:`~._policy.CALLABLES`, each with an argument check (:mod:`._calls`) that runs
   before the call. ``INST``/``OBJ`` (which call a class with arguments) and persistent ids are refused.
3. **State** (``BUILD``) goes only to an object this stream just created and nothing has used yet (passed to a
   call or held in another object's state), once, and a state object is applied once; a state that names a
   joblib cache (``memory``/``_memory`` not ``None``) is refused, and state that native code will trust
   (arrays, dtypes, trees, LightGBM model strings) is checked by :class:`~._state.StateGate`, before any
   ``__setstate__`` runs; without a ``__setstate__``, only a dict of string keys is applied.
4. **Containers**: ``APPEND(S)`` only into lists, ``SETITEM(S)`` only into dicts, ``ADDITEMS`` only into sets
   (else pickle would call the object's own ``append``/``extend``/``__setitem__``/``add``), and keys are
   strings, bytes, small ints or short flat tuples of them (:func:`._calls.is_flat_key`), so no single
   opcode can spend unbounded time hashing or comparing.
5. **Limits** (:class:`~._policy.PickleLimits`): opcodes (each creates at most one object), ``REDUCE``
   and ``NEWOBJ`` counts, memo entries, MARK depth, wall time (checked every 64 opcodes); a ``BYTEARRAY8``
   longer than the stream is refused before anything is allocated; any byte after ``STOP``, or anything left
   on the stack, is refused.
6. After loading, :func:`~._load.restricted_loads` checks the whole object (types, callables, caching,
   structure, wiring) before returning it.

Refusals are :class:`~diabetes_risk_model.errors.UnsafePickle` (an import) or
:class:`~diabetes_risk_model.errors.PickleRefused` and its :class:`PickleLimitExceeded` (everything else).

The C unpickler has no hook for calls, so this subclasses the pure-Python ``pickle._Unpickler`` and replaces
its dispatch table with an explicit one: opcodes not listed are refused. The private names it relies on
(``_Unpickler``, ``_Unframer``, ``dispatch``, ``_file_read``...) are checked by
``tests/unpickling/test_pickle_internals.py``, which fails loudly if a Python release changes them.
"""

from __future__ import annotations

import _compat_pickle
import collections
import pickle
import struct
import sys
import time
from collections.abc import Callable
from typing import Any, ClassVar

from diabetes_risk_model.errors import PickleLimitExceeded, PickleRefused, UnsafePickle
from diabetes_risk_model.unpickling._calls import CHECKS, is_flat_key
from diabetes_risk_model.unpickling._opcodes import DATA_OPCODES, REFUSED_OPCODES, opcode, safe_text
from diabetes_risk_model.unpickling._policy import ALLOWED_NAMES, CACHE_KEYS, REBUILT_CLASSES, Pair, PickleLimits
from diabetes_risk_model.unpickling._state import StateGate

__all__ = ["ALLOWED_NAMES", "DATA_OPCODES", "REFUSED_OPCODES", "PickleLimits", "RestrictedUnpickler"]

_PurePythonUnpickler: Any = getattr(pickle, "_Unpickler")  # noqa: B009 - typeshed does not describe it


class RestrictedUnpickler(_PurePythonUnpickler):
    """Pure-Python unpickler with an explicit dispatch table enforcing the module's rule."""

    dispatch: ClassVar[dict[int, Callable[[Any], None]]] = {}

    def __init__(self, file: Any, *, limits: PickleLimits | None = None) -> None:
        super().__init__(file)
        self._limits = limits or PickleLimits()
        self._imported: dict[int, tuple[Pair, Any]] = {}  # id -> (pair, object); keeps the objects alive
        self._fresh: dict[int, Any] = {}  # objects this stream created that may still receive one BUILD
        self._states: dict[int, Any] = {}  # state objects BUILD applied (kept alive so ids stay unique)
        self._opcodes = self._reduces = self._newobjs = 0
        self.gate = StateGate(self._limits)

    # -- imports ---------------------------------------------------------------------------------------------

    def find_class(self, module: str, name: str) -> Any:
        # Protocol <= 2 pickles use Python 2 names (``__builtin__.set``): map first, check what is imported.
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        if (module, name) not in ALLOWED_NAMES:
            raise UnsafePickle(safe_text(module), safe_text(name))
        __import__(module)
        obj = getattr(sys.modules[module], name)
        self._imported[id(obj)] = ((module, name), obj)
        return obj

    def name_of(self, obj: Any) -> Pair | None:
        """The pair *obj* was imported as by this stream, or ``None``."""
        entry = self._imported.get(id(obj))
        return entry[0] if entry is not None and entry[1] is obj else None

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickle("pickle", "persistent_load")

    def _refuse_persistent(self) -> None:
        raise UnsafePickle("pickle", "persistent_load")

    # -- the loop --------------------------------------------------------------------------------------------

    def load(self) -> Any:
        """``pickle._Unpickler.load`` with the limits, an explicit STOP and default-deny dispatch."""
        self._unframer = getattr(pickle, "_Unframer")(self._file_read, self._file_readline)  # noqa: B009
        self.read = self._unframer.read
        self.readinto = self._unframer.readinto
        self.readline = self._unframer.readline
        self.metastack: list[list[Any]] = []
        self.stack: list[Any] = []
        self.append = self.stack.append
        self.proto = 0
        read, dispatch, limits = self.read, self.dispatch, self._limits
        deadline = time.monotonic() + limits.max_seconds
        stop = pickle.STOP[0]
        while True:
            key = read(1)
            if not key:
                raise PickleRefused("pickle stream ends without a STOP opcode")
            self._opcodes += 1
            if self._opcodes > limits.max_opcodes:
                raise PickleLimitExceeded("pickle stream has more opcodes than the limit", limit="max_opcodes")
            if not self._opcodes & 63 and time.monotonic() > deadline:
                raise PickleLimitExceeded("pickle stream takes longer than the limit", limit="max_seconds")
            if key[0] == stop:
                return self._stop()
            handler = dispatch.get(key[0])
            if handler is None:
                raise PickleRefused(f"pickle opcode {key!r} is not allowed", opcode=key[0])
            handler(self)

    def _stop(self) -> Any:
        if len(self.stack) != 1 or self.metastack:
            raise PickleRefused("pickle stream leaves objects on its stack at STOP")
        frame = self._unframer.current_frame
        if (frame is not None and frame.read(1)) or self._file_read(1):
            raise PickleRefused("bytes after the pickle's STOP opcode")
        return self.stack.pop()

    # -- calls and object creation ---------------------------------------------------------------------------

    def _created(self, obj: Any) -> Any:
        self._fresh[id(obj)] = obj
        return obj

    def _used(self, values: Any) -> None:
        """*values* (call arguments, items of a state) were handed to another object: no BUILD may change them."""
        for value in values:
            self._fresh.pop(id(value), None)

    def _count(self, attribute: str, limit: int, name: str) -> None:
        count = getattr(self, attribute) + 1
        setattr(self, attribute, count)
        if count > limit:
            raise PickleLimitExceeded(f"pickle stream has more {name} opcodes than the limit", limit=f"max_{name}s")

    def load_reduce(self) -> None:
        args, func = self.stack[-1], self.stack[-2]
        pair = self.name_of(func)
        check = CHECKS.get(pair) if pair is not None else None
        if check is None:
            called = f"{pair[0]}.{pair[1]}" if pair else type(func).__name__
            raise PickleRefused(f"pickle calls {called}, which is not a reviewed reconstructor", call=called)
        if type(args) is not tuple:
            raise PickleRefused("pickle REDUCE arguments are not a tuple")
        check(args, self.name_of)
        self._count("_reduces", self._limits.max_reduces, "reduce")
        self._used(args)
        del self.stack[-1]
        result = func(*args)
        self.gate.after_call(result)
        self.stack[-1] = self._created(result)

    def _new(self, cls: Any, args: Any, kwargs: Any = None) -> None:
        pair = self.name_of(cls)
        if pair not in REBUILT_CLASSES or cls.__new__ is not object.__new__:
            name = f"{pair[0]}.{pair[1]}" if pair else type(cls).__name__
            raise PickleRefused(f"pickle creates {name} with __new__, which is not allowed", call=name)
        if type(args) is not tuple or args or (kwargs is not None and (type(kwargs) is not dict or kwargs)):
            raise PickleRefused("pickle passes arguments to __new__", call=f"{pair[0]}.{pair[1]}")
        self._count("_newobjs", self._limits.max_newobjs, "newobj")
        self.append(self._created(cls.__new__(cls)))

    def load_newobj(self) -> None:
        args = self.stack.pop()
        self._new(self.stack.pop(), args)

    def load_newobj_ex(self) -> None:
        kwargs, args = self.stack.pop(), self.stack.pop()
        self._new(self.stack.pop(), args, kwargs)

    def load_build(self) -> None:
        state, inst = self.stack.pop(), self.stack[-1]
        if self._fresh.pop(id(inst), None) is not inst:
            raise PickleRefused("pickle BUILDs state into an object it did not just create, or one already used")
        if type(state) in (dict, list, tuple) and state:  # containers are unique objects; () and None are not
            if id(state) in self._states or state is inst:
                raise PickleRefused("pickle applies one state object to more than one BUILD")
            self._states[id(state)] = state
        if isinstance(state, dict) and any(state.get(key) is not None for key in CACHE_KEYS):
            raise PickleRefused("pickled state names a joblib cache (memory is not None)", field="memory")
        self._used(state.values() if type(state) is dict else state if type(state) is tuple else ())
        self.gate.before_build(inst, state)
        setstate = getattr(inst, "__setstate__", None)
        if setstate is not None:
            setstate(state)
            return
        if type(state) is not dict or any(type(key) is not str for key in state):
            raise PickleRefused("pickled state of an object without __setstate__ is not a dict of names")
        inst.__dict__.update(state)

    # -- containers and memo ---------------------------------------------------------------------------------

    def _into(self, target: Any, kinds: tuple[type, ...], keys: Any = ()) -> None:
        if type(target) not in kinds or not all(is_flat_key(key) for key in keys):
            raise PickleRefused(f"pickle adds items to a {type(target).__name__} or uses a composite key")

    def load_append(self) -> None:
        self._into(self.stack[-2], (list,))
        super().load_append()

    def load_appends(self) -> None:
        self._into(self.metastack[-1][-1] if self.metastack and self.metastack[-1] else None, (list,))
        super().load_appends()

    def load_setitem(self) -> None:
        self._into(self.stack[-3], _DICTS, (self.stack[-2],))
        super().load_setitem()

    def load_setitems(self) -> None:
        target = self.metastack[-1][-1] if self.metastack and self.metastack[-1] else None
        self._into(target, _DICTS, self.stack[::2])
        super().load_setitems()

    def load_dict(self) -> None:
        self._into({}, (dict,), self.stack[::2])
        super().load_dict()

    def load_additems(self) -> None:
        self._into(self.metastack[-1][-1] if self.metastack and self.metastack[-1] else None, (set,), self.stack)
        super().load_additems()

    def load_frozenset(self) -> None:
        self._into(set(), (set,), self.stack)
        super().load_frozenset()

    def load_bytearray8(self) -> None:
        # pickle's own version allocates the declared length before reading: a 2**40-byte claim in 9 bytes.
        (size,) = struct.unpack("<Q", self.read(8))
        data = self.read(size) if size <= sys.maxsize else b""
        if len(data) != size:
            raise PickleRefused("pickle declares a bytearray longer than the stream")
        self.append(bytearray(data))

    def load_mark(self) -> None:
        super().load_mark()
        if len(self.metastack) > self._limits.max_mark_depth:
            raise PickleLimitExceeded("pickle stream nests deeper than the limit", limit="max_mark_depth")

    def _memo_checked(self, load: Callable[[Any], None]) -> None:
        load(self)
        if len(self.memo) > self._limits.max_memo:
            raise PickleLimitExceeded("pickle stream has more memo entries than the limit", limit="max_memo")

    def load_put(self) -> None:
        self._memo_checked(_PurePythonUnpickler.load_put)

    def load_binput(self) -> None:
        self._memo_checked(_PurePythonUnpickler.load_binput)

    def load_long_binput(self) -> None:
        self._memo_checked(_PurePythonUnpickler.load_long_binput)

    def load_memoize(self) -> None:
        self._memo_checked(_PurePythonUnpickler.load_memoize)


_DICTS: tuple[type, ...] = (dict, collections.OrderedDict, collections.defaultdict)

_OVERRIDES: dict[str, Callable[[Any], None]] = {
    "REDUCE": RestrictedUnpickler.load_reduce,
    "NEWOBJ": RestrictedUnpickler.load_newobj,
    "NEWOBJ_EX": RestrictedUnpickler.load_newobj_ex,
    "BUILD": RestrictedUnpickler.load_build,
    "APPEND": RestrictedUnpickler.load_append,
    "APPENDS": RestrictedUnpickler.load_appends,
    "SETITEM": RestrictedUnpickler.load_setitem,
    "SETITEMS": RestrictedUnpickler.load_setitems,
    "DICT": RestrictedUnpickler.load_dict,
    "ADDITEMS": RestrictedUnpickler.load_additems,
    "FROZENSET": RestrictedUnpickler.load_frozenset,
    "MARK": RestrictedUnpickler.load_mark,
    "BYTEARRAY8": RestrictedUnpickler.load_bytearray8,
    "PUT": RestrictedUnpickler.load_put,
    "BINPUT": RestrictedUnpickler.load_binput,
    "LONG_BINPUT": RestrictedUnpickler.load_long_binput,
    "MEMOIZE": RestrictedUnpickler.load_memoize,
    "PERSID": RestrictedUnpickler._refuse_persistent,
    "BINPERSID": RestrictedUnpickler._refuse_persistent,
}
RestrictedUnpickler.dispatch = {
    **{opcode(name): _PurePythonUnpickler.dispatch[opcode(name)] for name in DATA_OPCODES},
    **{opcode(name): handler for name, handler in _OVERRIDES.items()},
}
