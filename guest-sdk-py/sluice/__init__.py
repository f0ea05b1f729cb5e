"""``sluice`` is how connector authors write custom code for sluice in Python.
``build.py`` turns an author's ``app.py`` into a WebAssembly component that
the gateway runs, per call, in a sandbox.

There are two ways to write it, as module-level functions of ``app.py``.

Transform hooks, for the common case of changing the request and the
response around one backend call (either hook may be left out)::

    from sluice import Response

    def on_request(request, ctx):
        request.headers.set("x-sluice", "1")
        return request

    def on_response(response, ctx):
        if not response.is_success:
            return response
        items = response.json()
        return Response.from_json(200, {"count": len(items), "items": items})

A full handler, which may answer on its own or call backends any number of
times with ``send``::

    from sluice import ClientError, Response, log

    def handle(request, ctx):
        name = request.query("name")
        if name is None:
            raise ClientError(400, "`name` is required")
        log.info(f"greeting {name} for {ctx.operation_id}")
        return Response.from_text(200, f"hello, {name}")
"""

from .errors import ClientError, SendError, UpstreamError
from .headers import Headers
from .message import Request, Response

__all__ = [
    "ClientError",
    "Context",
    "Headers",
    "Request",
    "Response",
    "SendError",
    "UpstreamError",
    "log",
    "send",
]

# These talk to the host through the generated bindings, which exist only in
# a component build. Loading them on first use keeps the rest of the SDK
# importable in plain CPython, for its tests. An author's `from sluice import
# send` runs when the build snapshots the app, so calls never pay for it.
_HOST_NAMES = ("Context", "log", "send")


def __getattr__(name: str):
    if name in _HOST_NAMES:
        from . import _host

        return getattr(_host, name)
    raise AttributeError(f"module 'sluice' has no attribute {name!r}")
