"""Azure Communication Services Identity's custom code in Python: signs every
call with HMAC-SHA256, as the service requires, using the resource's
connection string, and sends it to the resource's endpoint. Behaves as the
Rust guest in `../guest`.

The connection string arrives in the `Connection-String` header (the
connection's API key; the package's `sluice.toml` lets the code see it) and
is removed before sending. It is `;`-separated
`endpoint=<url>;accesskey=<base64 key>`, prefixes case-insensitive.
The signature covers `METHOD\\n<path and query>\\n<date>;<host>;<body hash>`.

Build: `sluice build --guest guest-py` in the package folder.
"""

import base64
import binascii
import hashlib
import hmac
from email.utils import formatdate
from urllib.parse import urlsplit, urlunsplit

from sluice import ClientError, Response, send

#: The operations the code knows; any other id is answered 400.
OPERATIONS = (
    "CreateCommunicationIdentity",
    "DeleteCommunicationIdentity",
    "IssueIdentityAccessToken",
    "RevokeIdentityAccessTokens",
)

#: The header the connection puts the connection string in.
CONNECTION_STRING_HEADER = "Connection-String"

#: The port each scheme implies, which a URL does not spell out.
DEFAULT_PORTS = {"http": 80, "https": 443}


def handle(request, ctx):
    operation = ctx.operation_id
    if operation not in OPERATIONS:
        return Response.from_json(400, [{"error": f"Unknown operation ID '{operation}'"}])
    connection_string = request.header(CONNECTION_STRING_HEADER)
    if connection_string is None:
        raise ClientError(400, "the connection string is missing")
    request.headers.remove(CONNECTION_STRING_HEADER)
    scheme, authority, key = parse_connection_string(connection_string)

    # Path and query stay; scheme, host and port become the endpoint's.
    url = urlsplit(request.url)._replace(scheme=scheme, netloc=authority)
    path_and_query = f"{url.path or '/'}?{url.query}" if url.query else url.path or "/"
    content_hash = base64.b64encode(hashlib.sha256(request.body).digest()).decode()
    date = formatdate(usegmt=True)
    string_to_sign = f"{request.method.upper()}\n{path_and_query}\n{date};{authority};{content_hash}"
    signature = base64.b64encode(hmac.new(key, string_to_sign.encode(), hashlib.sha256).digest()).decode()

    request.url = urlunsplit(url)
    request.headers.set("Date", date)
    request.headers.set("x-ms-content-sha256", content_hash)
    request.headers.set(
        "Authorization", f"HMAC-SHA256 SignedHeaders=date;host;x-ms-content-sha256&Signature={signature}"
    )
    return send(request)


def parse_connection_string(text):
    """The endpoint's scheme and authority (host, and port when not the
    scheme's default) and the access key, from `endpoint=...;accesskey=...`.
    A missing, empty or malformed part is the client's mistake; messages
    never quote the key."""
    endpoint = key = None
    for part in text.split(";"):
        name, found, value = part.strip().partition("=")
        if not found:
            continue
        if name.strip().lower() == "endpoint":
            endpoint = value.strip()
        elif name.strip().lower() == "accesskey":
            key = value.strip()
    if not endpoint:
        raise ClientError(400, "the connection string has no `endpoint=`")
    if not key:
        raise ClientError(400, "the connection string has no `accesskey=`")
    endpoint = endpoint_authority(endpoint)
    if endpoint is None:
        raise ClientError(400, "the connection string's endpoint is not an http(s) URL")
    try:
        key = base64.b64decode(key, validate=True)
    except binascii.Error:
        raise ClientError(400, "the connection string's access key is not base64") from None
    return (*endpoint, key)


def endpoint_authority(endpoint):
    """The scheme and the authority as signed, `host[:port]`, of an http(s)
    URL; None for anything else."""
    try:
        url = urlsplit(endpoint)
        port = url.port
    except ValueError:
        return None
    scheme = url.scheme.lower()
    host = url.hostname
    if scheme not in DEFAULT_PORTS or not host or not all(c.isalnum() or c in "-.:" for c in host):
        return None
    authority = f"[{host}]" if ":" in host else host
    if port is not None and port != DEFAULT_PORTS[scheme]:
        authority += f":{port}"
    return scheme, authority
