"""The HTTP protocol the service runs with: uvicorn's httptools protocol, with a JSON 400 for malformed requests.

uvicorn answers a request it cannot parse (a bad request line, a bad header) itself, before any ASGI code
runs, with a plain-text 400; every other error of this service is JSON, so clients and log pipelines parse
one shape. Only the body and its content type change: status, ``connection: close`` and the server's
default headers stay uvicorn's.
"""

import json

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol


def json_400(message: str) -> bytes:
    """The body of the 400: ``{"error": "<uvicorn's message>"}``."""
    return json.dumps({"error": message}).encode("ascii")


class JsonErrorsHttpTools(HttpToolsProtocol):
    """HttpToolsProtocol whose 400 for an unparseable request is JSON."""

    def send_400_response(self, msg: str) -> None:
        body = json_400(msg)
        content = [STATUS_LINE[400]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: application/json\r\n",
                b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
                b"connection: close\r\n",
                b"\r\n",
                body,
            ]
        )
        self.transport.write(b"".join(content))
        self.transport.close()
