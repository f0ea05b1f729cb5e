"""The errors code raises to answer the client (``ClientError``,
``UpstreamError``) and the one a backend call raises (``SendError``).

Any other exception that leaves the code becomes an internal failure: the
client gets a 500 and the exception's type and message go to the log.
"""


class ClientError(Exception):
    """Answer the client with this 4xx status and message: the typed form of
    the platform's ``EXPECTED400: ...`` habit.

    ``raise ClientError(422, "name is required")``
    """

    def __init__(self, status: int, message: str):
        # A status outside 4xx is a mistake in the code, not a client error;
        # saying so here points at the line that made it.
        if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 499:
            raise ValueError(f"ClientError status must be an int from 400 to 499, got {status!r}")
        super().__init__(message)
        self.status = status
        self.message = message

    def __str__(self) -> str:
        return f"client error {self.status}: {self.message}"


class UpstreamError(Exception):
    """The backend failed or answered something the code cannot use: the
    client gets a 502 with this message."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"upstream failure: {self.message}"


class SendError(Exception):
    """Why a backend call made with ``send`` produced no response. A response
    with any status, 4xx and 5xx included, is not an error.

    ``kind`` is one of ``SendError.KINDS``; ``message`` says why (empty for
    ``timeout``). Left uncaught, it becomes an ``UpstreamError`` (502).
    """

    #: The kinds, with how ``str()`` describes each.
    KINDS = {
        "denied": "denied by egress policy",
        "invalid-request": "invalid request",
        "unreachable": "backend unreachable",
        "timeout": "backend timed out",
        "failed": "backend connection failed",
    }

    def __init__(self, kind: str, message: str = ""):
        if kind not in self.KINDS:
            raise ValueError(f"unknown SendError kind {kind!r}")
        super().__init__(kind, message)
        self.kind = kind
        self.message = message

    def __str__(self) -> str:
        description = self.KINDS[self.kind]
        return f"{description}: {self.message}" if self.message else description
