"""A request that asks to upgrade its connection to a protocol uvicorn does not speak
(`Upgrade: h2c`, which Java's HTTP client sends with its POSTs) is answered as plain
HTTP/1.1, as RFC 9110 §7.8 lets a server do.

httptools takes any request with `Connection: upgrade` and an `Upgrade` header for the
last HTTP on its connection: it skips the request's body and raises `HttpParserUpgrade`
at the offset where the other protocol would begin. uvicorn then runs the app with an
empty body, drops the rest of that read and parses the next one as a new request, which
ends in a 400 (uvicorn issue 2722). Here such a request's head is not dispatched: it is
fed to a fresh parser without its `Upgrade` header, followed by the bytes from that
offset, so the parser frames the body (by length or chunks) and any pipelined request as
usual. The upgrades uvicorn performs (websocket, with a websocket library installed) and
CONNECT keep uvicorn's own way.

This is the one module that touches uvicorn's `HttpToolsProtocol` internals for it: its
`parser` (replaced, with the leniency uvicorn gives its own), `url` and `headers`
attributes, the `on_headers_complete` and `on_message_complete` parser callbacks and
`_should_upgrade`.
"""

from __future__ import annotations

import asyncio
from array import array
from typing import Any

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState


class _Parser(httptools.HttpRequestParser):
    """httptools' request parser, which hands an ignored upgrade's head, and the bytes
    after it, to a fresh parser."""

    def __init__(self, protocol: UpgradeIgnoringProtocol) -> None:
        super().__init__(protocol)
        self.protocol = protocol
        # As uvicorn sets up its own parser: a pipelined request behind `Connection:
        # close` does not stop the answer to the one before it.
        self.set_dangerous_leniencies(lenient_data_after_close=True)

    def feed_data(self, data: bytes | bytearray | memoryview | array[int]) -> None:
        parser: httptools.HttpRequestParser = self
        # A loop, not recursion: one segment may hold many pipelined upgrade requests.
        while True:
            try:
                httptools.HttpRequestParser.feed_data(parser, data)
                return
            except httptools.HttpParserUpgrade as upgrade:
                head = self.protocol.ignored_head
                if head is None:
                    raise  # an upgrade uvicorn performs
                self.protocol.ignored_head = None
                # A fresh parser: this one, without keep-alive (HTTP/1.0, `Connection:
                # close`), would take what follows for data after the connection's end.
                parser = self.protocol.parser = _Parser(self.protocol)
                data = b"".join((head, data[upgrade.args[0] :]))


class UpgradeIgnoringProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, answering a request whose upgrade it cannot perform
    as if no upgrade was asked."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.parser = _Parser(self)
        self.ignored_head: bytes | None = None  # to feed again, once the parser stops

    def on_headers_complete(self) -> None:
        if (
            self.parser.should_upgrade()
            and not self._should_upgrade()
            and self.parser.get_method() != b"CONNECT"  # an upgrade without the header
        ):
            self.ignored_head = self._head_without_upgrade()
            return
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        # The parser ends an upgrade request at its head; it is answered once fed again.
        if self.ignored_head is None:
            super().on_message_complete()

    def _head_without_upgrade(self) -> bytes:
        version = self.parser.get_http_version().encode("ascii")
        lines = [b"%s %s HTTP/%s\r\n" % (self.parser.get_method(), self.url, version)]
        lines += [b"%s: %s\r\n" % (n, v) for n, v in self.headers if n != b"upgrade"]
        lines.append(b"\r\n")
        return b"".join(lines)
