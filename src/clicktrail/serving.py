"""How uvicorn serves the app: one place for `clicktrail serve`, the tests and the benchmarks.

httptools buffers a request's head however large it grows; uvicorn sets no limit on it. A client
sending a 1 MB header would have it read, joined and copied into memory before the app could
refuse it. The protocol below counts the head's bytes as they arrive and answers 431 once they
pass the limit, so no connection ever holds more than about one read beyond it.
"""

from __future__ import annotations

import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from clicktrail.intake import MAX_HEADER_BYTES

# Headers (16 KiB, API.md) plus room for the request line with a long query string.
MAX_HEAD_BYTES = MAX_HEADER_BYTES + 8 * 1024
_BODY_431 = json.dumps({"detail": "the request headers are larger than 16 KiB"}).encode()
_RESPONSE_431 = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
    b"content-length: " + str(len(_BODY_431)).encode() + b"\r\nconnection: close\r\n\r\n" + _BODY_431
)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0
        self._in_head = True

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self.transport.write(_RESPONSE_431)
                self.transport.close()
                return
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_bytes = True, 0

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head, self._head_bytes = True, 0  # the next request on this connection


def uvicorn_options(log_level: str = "info") -> dict[str, Any]:
    return {
        "factory": True,
        "loop": "uvloop",
        "http": BoundedHttpToolsProtocol,
        "log_level": log_level,
        "proxy_headers": True,
        "access_log": False,  # one log line per redirect would cost more than the redirect
    }
