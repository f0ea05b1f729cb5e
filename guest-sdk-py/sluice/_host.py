"""The boundary with the host: ``send``, ``log`` and ``Context``, and the glue
that turns one call of the component's export into a call of the author's
code. The only module of the SDK that imports the generated bindings, which
exist only inside a component build."""

import os
import traceback
from types import ModuleType
from typing import Callable, Optional

from componentize_py_types import Err
from wit_world.imports import backend, call, types
from wit_world.imports import log as wit_log

from .errors import ClientError, SendError, UpstreamError
from .headers import Headers
from .message import Request, Response


class Context:
    """What the code knows about the call it serves."""

    def __init__(self, ctx: types.Context):
        #: The connector's id, as the gateway names it.
        self.connector_id: str = ctx.connector_id
        #: The ``operationId`` of the operation being called.
        self.operation_id: str = ctx.operation_id
        #: The id tying this call's logs, backend calls and error answers together.
        self.correlation_id: str = ctx.correlation_id
        #: The URL the client called on the gateway (webhooks build ``Location`` from it).
        self.original_url: str = ctx.original_url

    def time_left_ms(self) -> int:
        """Milliseconds left before the call's deadline; backend calls count."""
        return call.time_left_ms()

    def __repr__(self) -> str:
        return f"Context(operation_id={self.operation_id!r}, correlation_id={self.correlation_id!r})"


class _Log:
    """Log lines, attributed to the call by the host. Lines beyond the call's
    log budget end the call. ``print`` also reaches the call's log."""

    def trace(self, message: str) -> None:
        """Records a fine-grained detail."""
        wit_log.write(wit_log.Level.TRACE, str(message))

    def debug(self, message: str) -> None:
        """Records a detail useful when debugging."""
        wit_log.write(wit_log.Level.DEBUG, str(message))

    def info(self, message: str) -> None:
        """Records normal operation."""
        wit_log.write(wit_log.Level.INFO, str(message))

    def warn(self, message: str) -> None:
        """Records something unexpected that the code handled."""
        wit_log.write(wit_log.Level.WARN, str(message))

    def error(self, message: str) -> None:
        """Records a failure."""
        wit_log.write(wit_log.Level.ERROR, str(message))


#: The call's log: ``log.info("...")``, and ``trace``, ``debug``, ``warn``, ``error``.
log = _Log()

_SEND_ERROR_KINDS = {
    types.SendError_Denied: "denied",
    types.SendError_InvalidRequest: "invalid-request",
    types.SendError_Unreachable: "unreachable",
    types.SendError_Timeout: "timeout",
    types.SendError_Failed: "failed",
}


def send(request: Request) -> Response:
    """Sends ``request`` to a backend and waits for its response: the only way
    out of the sandbox. Raises ``SendError`` when there is no response.

    The host checks the call against the connector's egress rules first; a
    refusal is ``SendError`` of kind ``denied``. Redirects are not followed.
    Each call counts against the call's limit on backend calls.
    """
    outgoing = types.Request(request.method, request.url, _to_wit_headers(request.headers), request.body)
    try:
        answer = backend.send(outgoing)
    except Err as failure:
        reason = failure.value
        raise SendError(_SEND_ERROR_KINDS[type(reason)], getattr(reason, "value", "")) from None
    return Response(answer.status, _from_wit_headers(answer.headers), answer.body)


def handler_for(app: ModuleType) -> Callable[[types.Context, types.Request], types.Response]:
    """The export's body for the author's module ``app``: its ``handle``, or
    its ``on_request`` and ``on_response`` hooks around one ``send``.

    Runs when the build snapshots the app, so a module with both or neither
    fails the build.
    """
    handle = getattr(app, "handle", None)
    hooks = [getattr(app, name, None) for name in ("on_request", "on_response")]
    if (handle is None) == (hooks == [None, None]):
        raise TypeError("app.py must define either handle or the hooks on_request and/or on_response")
    if handle is None:
        handle = _transform(*hooks)
    author_folder = os.path.dirname(os.path.abspath(app.__file__))

    def serve(ctx: types.Context, request: types.Request) -> types.Response:
        incoming = Request(request.method, request.url, _from_wit_headers(request.headers), request.body)
        try:
            response = _expect_response(handle(incoming, Context(ctx)), "handle")
            return _to_wit_response(response)
        except ClientError as error:
            raise Err(types.Error_Client(types.ClientError(error.status, error.message))) from None
        except UpstreamError as error:
            raise Err(types.Error_Upstream(error.message)) from None
        except SendError as error:
            raise Err(types.Error_Upstream(f"backend call failed: {error}")) from None
        except BaseException as error:
            # Anything else, SystemExit and MemoryError included, is the
            # code's own failure: a result the gateway answers with a 500,
            # never a trap that would hide what went wrong.
            raise Err(types.Error_Internal(_describe(error, author_folder))) from None

    return serve


def _transform(on_request: Optional[Callable], on_response: Optional[Callable]) -> Callable:
    """A handler made of the hooks: either may be missing, and passes the
    message through unchanged."""

    def handle(request: Request, ctx: Context) -> Response:
        if on_request is not None:
            request = on_request(request, ctx)
            if not isinstance(request, Request):
                raise TypeError(f"on_request returned {type(request).__name__}, not the sluice.Request to send")
        response = send(request)
        if on_response is not None:
            response = _expect_response(on_response(response, ctx), "on_response")
        return response

    return handle


def _expect_response(response: object, hook: str) -> Response:
    if not isinstance(response, Response):
        raise TypeError(f"{hook} returned {type(response).__name__}, not a sluice.Response")
    return response


def _to_wit_response(response: Response) -> types.Response:
    status = response.status
    # The host checks the range 100-599; a value that does not even fit the
    # contract's u16 could not be handed over at all.
    if isinstance(status, bool) or not isinstance(status, int) or not 0 <= status <= 0xFFFF:
        raise ValueError(f"response status must be an int from 100 to 599, got {status!r}")
    return types.Response(status, _to_wit_headers(response.headers), response.body)


def _from_wit_headers(headers: list) -> Headers:
    return Headers((header.name, header.value) for header in headers)


def _to_wit_headers(headers: Headers) -> list:
    return [types.Header(name, value) for name, value in headers]


def _describe(error: BaseException, author_folder: str) -> str:
    """``Type: message``, and where in the author's files it was raised."""
    # The finished frames still hold the failed code's locals; a MemoryError
    # would keep its hoard reachable while this message is built.
    traceback.clear_frames(error.__traceback__)
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if os.path.abspath(frame.filename).startswith(author_folder + os.sep)
    ]
    if frames:
        frame = frames[-1]
        text += f" ({os.path.relpath(frame.filename, author_folder)} line {frame.lineno}, in {frame.name})"
    return text
