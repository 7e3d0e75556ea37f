"""A TCP forwarder standing in for what `kubectl port-forward` does once connected (tests only).

    python tests/forwarder.py LOCAL_PORT HOST:PORT

Listens on 127.0.0.1:LOCAL_PORT and pipes every connection to HOST:PORT until killed. The kubectl stubs of
tests/deploy and tests/kube do their own checks first (what they log, whether the Service exists), then exec this.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
from pathlib import Path

PATH = Path(__file__).resolve()


def pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


def serve(local: int, target: str) -> None:
    host, port = target.rsplit(":", 1)
    server = socket.create_server(("127.0.0.1", local))
    while True:
        client, _ = server.accept()
        upstream = socket.create_connection((host, int(port)))
        threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
        threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2])
