"""``Request`` and ``Response``: HTTP messages with JSON, text, query and URL
helpers."""

import json
from typing import Any, Iterable, List, Optional, Tuple, Union
from urllib.parse import SplitResult, parse_qsl, quote, urlencode, urlsplit, urlunsplit

from .errors import ClientError, UpstreamError
from .headers import Headers

Body = Union[bytes, bytearray, memoryview, str]

# Characters a URL path keeps as they are: RFC 3986's unreserved and
# sub-delims, ':' and '@', the separator '/', and '%' so that escapes already
# in the path are not escaped twice.
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"


def dump_json(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON, the form serde_json writes: no spaces,
    non-ASCII unescaped, NaN and infinities refused."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def load_json(data: bytes) -> Any:
    """Parses UTF-8 JSON strictly: ``NaN`` and ``Infinity``, which Python
    would accept, are refused as every other JSON parser does."""
    return json.loads(data.decode("utf-8"), parse_constant=_refuse_constant)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class _Message:
    """What requests and responses share: headers, a body, and the body as
    text or JSON. Each kind says, in ``_unusable``, whom an unreadable body
    blames, and words the messages for it."""

    _NOT_TEXT: str
    _NOT_JSON: str

    def __init__(self, headers: Optional[Iterable[Tuple[str, str]]], body: Body):
        self.headers = headers if isinstance(headers, Headers) else Headers(headers or ())
        self.body = body

    @property
    def body(self) -> bytes:
        """The body bytes; empty when there is none. Set it to bytes or str
        (str is encoded as UTF-8)."""
        return self._body

    @body.setter
    def body(self, body: Body) -> None:
        if isinstance(body, str):
            body = body.encode()
        elif not isinstance(body, (bytes, bytearray, memoryview)):
            raise TypeError(f"a body is bytes or str, not {type(body).__name__}")
        self._body = bytes(body)

    def header(self, name: str) -> Optional[str]:
        """The first value of header ``name`` (case-insensitive), or None."""
        return self.headers.get(name)

    def text(self) -> str:
        """The body as UTF-8 text."""
        try:
            return self._body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise self._unusable(self._NOT_TEXT.format(error)) from None

    def json(self) -> Any:
        """The body parsed as JSON: dicts, lists, str, int, float, bool, None."""
        try:
            return load_json(self._body)
        except ValueError as error:
            raise self._unusable(self._NOT_JSON.format(error)) from None

    def set_json(self, value: Any) -> None:
        """Replaces the body with ``value`` as JSON and sets ``content-type``."""
        self._body = dump_json(value)
        self.headers.set("content-type", "application/json")

    def set_text(self, text: str) -> None:
        """Replaces the body with ``text`` and sets a text/plain ``content-type``."""
        self._body = text.encode()
        self.headers.set("content-type", "text/plain; charset=utf-8")


class Request(_Message):
    """An HTTP request: the one the client made (after credentials and
    request policies), or one the code sends with ``send``.

    ``method`` (upper case), ``url`` (absolute), ``headers`` and ``body`` are
    plain attributes; the helpers below read and edit the URL.
    """

    def __init__(self, method: str, url: str, headers: Optional[Iterable[Tuple[str, str]]] = None, body: Body = b""):
        """A request; ``url`` must be absolute (``https://host/path?query``)."""
        super().__init__(headers, body)
        self.method = method
        self.url = url

    def __repr__(self) -> str:
        return f"Request({self.method!r}, {self.url!r}, {self.headers!r}, {self.body!r})"

    _NOT_TEXT = "request body is not UTF-8: {}"
    _NOT_JSON = "request body is not valid JSON: {}"

    def _unusable(self, message: str) -> Exception:
        # The client sent this body, so the client made the mistake.
        return ClientError(400, message)

    def _split(self) -> SplitResult:
        parts = urlsplit(self.url)
        if not parts.scheme or not parts.netloc:
            raise ValueError(f"request URL {self.url!r} is not absolute")
        return parts

    @property
    def path(self) -> str:
        """The URL's path, percent-encoded as sent; ``/`` when it has none."""
        return self._split().path or "/"

    def set_path(self, path: str) -> None:
        """Replaces the path, keeping scheme, host and query. Characters a
        path cannot hold (space, ``?``, ``#``...) are percent-encoded."""
        path = quote(path, safe=_PATH_SAFE)
        if not path.startswith("/"):
            path = "/" + path
        self.url = urlunsplit(self._split()._replace(path=path))

    def set_host(self, host: str) -> None:
        """Sends the request to another host, keeping scheme, port, path and
        query. The host must still be allowed by the connector's egress rules."""
        if not _is_host(host):
            raise ValueError(f"{host!r} is not a host name or IP address")
        parts = self._split()
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = host.lower()
        if parts.port is not None:
            netloc += f":{parts.port}"
        if userinfo:
            netloc = f"{userinfo}@{netloc}"
        self.url = urlunsplit(parts._replace(netloc=netloc))

    def query(self, name: str) -> Optional[str]:
        """The first value of query parameter ``name``, decoded, or None."""
        values = self.query_all(name)
        return values[0] if values else None

    def query_all(self, name: str) -> List[str]:
        """Every value of query parameter ``name``, decoded, in order."""
        return [value for key, value in self._query_pairs() if key == name]

    def set_query(self, name: str, value: str) -> None:
        """Sets query parameter ``name`` to ``value``: earlier values go, the
        new pair comes last, the other parameters stay in order."""
        self._write_query([pair for pair in self._query_pairs() if pair[0] != name] + [(name, value)])

    def append_query(self, name: str, value: str) -> None:
        """Adds ``name=value`` after the existing parameters, keeping earlier
        values of ``name`` (for lists such as ``id=1&id=2``)."""
        parts = self._split()
        pair = urlencode([(name, value)])
        self.url = urlunsplit(parts._replace(query=f"{parts.query}&{pair}" if parts.query else pair))

    def remove_query(self, name: str) -> None:
        """Removes every value of query parameter ``name``."""
        self._write_query([pair for pair in self._query_pairs() if pair[0] != name])

    def _query_pairs(self) -> List[Tuple[str, str]]:
        return parse_qsl(self._split().query, keep_blank_values=True)

    def _write_query(self, pairs: List[Tuple[str, str]]) -> None:
        self.url = urlunsplit(self._split()._replace(query=urlencode(pairs)))


class Response(_Message):
    """An HTTP response: a backend's, or the one the code returns.

    ``status``, ``headers`` and ``body`` are plain attributes.
    """

    def __init__(self, status: int = 200, headers: Optional[Iterable[Tuple[str, str]]] = None, body: Body = b""):
        """A response; by default a 200 with no headers and no body."""
        super().__init__(headers, body)
        self.status = status

    @classmethod
    def from_json(cls, status: int, value: Any) -> "Response":
        """A response whose body is ``value`` as JSON, with ``content-type``
        set to ``application/json``."""
        response = cls(status)
        response.set_json(value)
        return response

    @classmethod
    def from_text(cls, status: int, text: str) -> "Response":
        """A ``text/plain`` response."""
        response = cls(status)
        response.set_text(text)
        return response

    @property
    def is_success(self) -> bool:
        """Whether the status is 2xx."""
        return 200 <= self.status <= 299

    def __repr__(self) -> str:
        return f"Response({self.status!r}, {self.headers!r}, {self.body!r})"

    _NOT_TEXT = "backend body is not UTF-8: {}"
    _NOT_JSON = "backend answered invalid JSON: {}"

    def _unusable(self, message: str) -> Exception:
        # The backend sent this body: the client gets a 502, not a 500.
        return UpstreamError(message)


def _is_host(host: str) -> bool:
    """Whether ``host`` is a DNS name, an IPv4 address or a bracketed IPv6
    address: nothing that would change the URL's other parts."""
    if not isinstance(host, str) or not host:
        return False
    if host.startswith("[") and host.endswith("]"):
        return all(c in "0123456789abcdefABCDEF:." for c in host[1:-1]) and ":" in host
    return all(c.isascii() and (c.isalnum() or c in "-.") for c in host)
