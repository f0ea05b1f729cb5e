"""The canonical transform in Python, written with the transform hooks: the
request gets `x-sluice: 1`; the backend's JSON array of items comes back
wrapped as `{"count": n, "items": [...]}`. Behaves as the Rust guest in
`../guest`.

Build: `sluice build --guest guest-py` in the package folder.
"""

import json

from sluice import Response, UpstreamError

#: The fields of an item, in the order the answer writes them.
ITEM_FIELDS = ("id", "name", "ok")


def on_request(request, ctx):
    request.headers.set("x-sluice", "1")
    return request


def on_response(response, ctx):
    if not response.is_success:
        return response
    items = response.json()
    if not isinstance(items, list):
        raise UpstreamError("backend answered invalid JSON: expected an array of items")
    items = [parse_item(item) for item in items]
    return Response.from_json(200, {"count": len(items), "items": items})


def parse_item(item):
    """One item as the backend sends it, with only its known fields: `id` an
    unsigned integer, `name` a string, `ok` a boolean."""
    if not isinstance(item, dict) or any(field not in item for field in ITEM_FIELDS):
        raise UpstreamError(f"backend answered invalid JSON: an item needs id, name and ok: {json.dumps(item)}")
    id_, name, ok = (item[field] for field in ITEM_FIELDS)
    if type(id_) is not int or not 0 <= id_ < 2**64 or type(name) is not str or type(ok) is not bool:
        raise UpstreamError(f"backend answered invalid JSON: an item's id, name or ok is mistyped: {json.dumps(item)}")
    return {"id": id_, "name": name, "ok": ok}
