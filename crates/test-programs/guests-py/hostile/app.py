"""A Python test guest whose behaviour is chosen by the operation id: answers
that show the SDK works, and the ways Python code can misbehave, so that the
runtime's limits and the SDK's error mapping can be tested from both sides.

Build: `python guest-sdk-py/build.py --guest crates/test-programs/guests-py/hostile
--wit wit --out hostile.wasm` from the repository root.
"""

from sluice import ClientError, Request, Response, SendError, UpstreamError, log, send


def handle(request, ctx):
    operation = ctx.operation_id
    if operation == "Echo":
        body = request.body.decode("utf-8", errors="replace")
        return Response.from_json(200, {"method": request.method, "url": request.url, "body": body})
    if operation == "Transform":
        # A module has either `handle` or the hooks; this one needs both, so
        # it runs its hooks the way the SDK runs a transform's.
        return items_response(send(items_request(request, ctx)), ctx)
    if operation == "Loop":
        n = 0
        while True:
            n += 1
    if operation == "Grow":
        hoard = []
        while True:
            hoard.append(b"x" * (1 << 20))
    if operation == "Throw":
        raise RuntimeError("boom: the guest failed on purpose")
    if operation == "ClientError":
        raise ClientError(422, "name is required")
    if operation == "LogFlood":
        line = "x" * 1024
        while True:
            log.info(line)
    if operation == "ReadAsset":
        try:
            with open("/assets/greeting.txt", encoding="utf-8") as file:
                return Response.from_text(200, file.read())
        except FileNotFoundError as error:
            raise ClientError(404, str(error)) from None
    if operation == "WriteAsset":
        try:
            with open("/assets/new.txt", "w", encoding="utf-8") as file:
                file.write("written by the guest")
            return Response.from_text(200, "wrote")
        except OSError as error:
            raise ClientError(403, str(error)) from None
    if operation == "EscapeAsset":
        failures = []
        # `link.txt`, where a test puts it, links to a file outside the assets.
        for path in ("/assets/../etc/passwd", "/etc/passwd", "/assets/link.txt"):
            try:
                with open(path, "rb") as file:
                    file.read()
                return Response.from_text(200, "escaped")
            except OSError as error:
                failures.append(str(error))
        raise ClientError(403, "; ".join(failures))
    if operation == "Socket":
        # CPython's C library links WASI sockets, and the host refuses every
        # use of them; the standard library has no `socket` module to reach
        # them with in the first place.
        try:
            import socket
        except ImportError as error:
            raise ClientError(403, f"no sockets: {error}") from None
        failures = []
        for attempt in (
            lambda: socket.create_connection(("127.0.0.1", 80), timeout=1),
            lambda: socket.getaddrinfo("example.com", 443),
            lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).bind(("0.0.0.0", 0)),
        ):
            try:
                attempt()
                return Response.from_text(200, "connected")
            except OSError as error:
                failures.append(str(error))
        raise ClientError(403, "; ".join(failures))
    if operation == "Send":
        try:
            return send(Request("GET", request.url))
        except SendError as error:
            raise UpstreamError(f"{error.kind}: {error.message}" if error.message else error.kind) from None
    raise ClientError(400, f"unknown operation {operation}")


def items_request(request, ctx):
    """The canonical transform's request hook: marks the request."""
    request.headers.set("x-sluice", "1")
    return request


def items_response(response, ctx):
    """The canonical transform's response hook: wraps a 2xx JSON array of
    items as `{"count": n, "items": [...]}`."""
    if not response.is_success:
        return response
    items = response.json()
    if not isinstance(items, list):
        raise UpstreamError("backend answered invalid JSON: expected an array of items")
    return Response.from_json(200, {"count": len(items), "items": items})
