"""A TCP proxy between Chromium and a server that a test can sever: every open connection (the page's websocket
included) is cut at once, and new ones wait until the test lets them through, so the server has seen the
disconnect before the page can reconnect."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator


class Proxy:
    """Forwards 127.0.0.1:`port` to 127.0.0.1:`target`; `sever()` cuts every connection and holds new ones until
    `reopen()`."""

    def __init__(self, target: int) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._open = threading.Event()
        self._open.set()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def sever(self) -> None:
        """Cut every open connection; connections made from now on wait for `reopen()`."""
        self._open.clear()
        with self._lock:
            cut, self._sockets = self._sockets, []
        for sock in cut:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def reopen(self) -> None:
        self._open.set()

    def close(self) -> None:
        self._listener.close()
        self.sever()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:  # closed
                return
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        self._open.wait()
        upstream = socket.create_connection(("127.0.0.1", self.target))
        with self._lock:
            self._sockets += [client, upstream]
        for source, sink in ((client, upstream), (upstream, client)):
            threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    """Copy bytes from `source` to `sink` until either side closes, then close both."""
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    for sock in (source, sink):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()


@contextlib.contextmanager
def proxied(url: str) -> Iterator[tuple[str, Proxy]]:
    """(the proxy's base url, the proxy) in front of the server at `url` ("http://127.0.0.1:PORT")."""
    proxy = Proxy(int(url.rsplit(":", 1)[1]))
    try:
        yield f"http://127.0.0.1:{proxy.port}", proxy
    finally:
        proxy.close()
