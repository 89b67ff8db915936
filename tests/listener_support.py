"""A TCP listener on 127.0.0.1 that counts the connections it accepts: the witness that a
refused SERVICE or LOAD never reached its host."""

from __future__ import annotations

import socket
import threading
import time

WAIT_SECONDS = 10.0


class Listener:
    """A TCP server that accepts and closes connections, counting them."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.05)  # so that the thread sees `close` soon
        self.port: int = self._server.getsockname()[1]
        self._peers: list[tuple[str, int]] = []
        self._probes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, peer = self._server.accept()
            except TimeoutError:
                continue
            connection.close()
            self._peers.append(peer)

    def connections(self) -> int:
        """Connections accepted so far: connects once itself and waits until that one is
        accepted (connections are accepted in order), then leaves it out of the count."""
        with socket.create_connection(("127.0.0.1", self.port)) as probe:
            mine = probe.getsockname()
        self._probes += 1
        deadline = time.monotonic() + WAIT_SECONDS
        while mine not in self._peers:
            assert time.monotonic() < deadline, "the listener did not accept its own probe"
            time.sleep(0.01)
        return len(self._peers) - self._probes

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._server.close()
