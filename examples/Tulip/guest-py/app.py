"""Tulip's custom code in Python, for `GetTable`: builds the JSON schema of a
table's records at run time (a dynamic schema), from the table's columns.
Each column becomes a property keyed by its `name`, described by its
`label`, typed from its data type; `id` is required. Non-2xx answers pass
through. Behaves as the Rust guest in `../guest`.

Build: `sluice build --guest guest-py` in the package folder.
"""

from sluice import Response, UpstreamError


def on_response(response, ctx):
    if not response.is_success:
        return response
    table = response.json()
    if not isinstance(table, dict):
        raise invalid("a table is an object")
    columns = table.get("columns", [])
    if not isinstance(columns, list):
        raise invalid("a table's `columns` is an array")
    properties = {}
    for column in columns:
        name, label, tulip_type = read_column(column)
        properties[name] = {"type": json_type(tulip_type), "description": label, "x-ms-summary": label}
    schema = {"type": "array", "items": {"type": "object", "required": ["id"], "properties": properties}}
    return Response.from_json(response.status, schema)


def read_column(column):
    """A column's name, its label (the name when it has none) and its Tulip
    data type ("" when it has none)."""
    if not isinstance(column, dict) or not isinstance(column.get("name"), str):
        raise invalid("a column is an object with a string `name`")
    name = column["name"]
    label = column.get("label")
    data_type = column.get("dataType")
    if data_type is not None and not isinstance(data_type, dict):
        raise invalid(f"column `{name}` has a `dataType` that is not an object")
    tulip_type = (data_type or {}).get("type")
    if not isinstance(label, (str, type(None))) or not isinstance(tulip_type, (str, type(None))):
        raise invalid(f"column `{name}` has a `label` or `dataType.type` that is not a string")
    return name, name if label is None else label, tulip_type or ""


def json_type(tulip_type):
    """The JSON type of a Tulip column type."""
    if tulip_type in ("interval", "float"):
        return "number"
    if tulip_type == "color":
        return "object"
    # timestamp, imageUrl, fileUrl, user, station, machine, tableLink and
    # anything unknown travel as text.
    return "string"


def invalid(reason):
    return UpstreamError(f"backend answered invalid JSON: {reason}")
