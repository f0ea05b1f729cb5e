// Tulip's custom code, for `GetTable`: builds the JSON schema of a table's
// records at run time (a dynamic schema), from the table's columns. Each
// column becomes a property keyed by its `name`, described by its `label`,
// typed from its data type; `id` is required. Non-2xx answers pass through.
//
// Build: `sluice build` in the package folder, or
// `node guest-sdk-js/build.mjs --guest examples/Tulip/guest-js --wit wit --out script.wasm`.

import { Response, UpstreamError } from "sluice";

export function onResponse(response) {
  if (!response.ok) {
    return response;
  }
  const properties = columns(response.json()).map((column) => {
    const label = column.label ?? column.name;
    return [column.name, { type: jsonType(column.dataType?.type ?? ""), description: label, "x-ms-summary": label }];
  });
  const answer = new Response(response.status, { headers: [["content-type", "application/json"]] });
  answer.body = `{"type":"array","items":{"type":"object","required":["id"],"properties":${object(properties)}}}`;
  return answer;
}

// The table's columns, checked as far as the code reads them.
function columns(table) {
  if (typeof table !== "object" || table === null || Array.isArray(table)) {
    throw invalid("the table is not an object");
  }
  const list = table.columns ?? [];
  if (!Array.isArray(list)) {
    throw invalid("`columns` is not an array");
  }
  return list.map((column, index) => {
    const where = `column ${index}`;
    if (typeof column !== "object" || column === null || Array.isArray(column)) {
      throw invalid(`${where} is not an object`);
    }
    const { name, label, dataType } = column;
    if (typeof name !== "string") {
      throw invalid(`${where} has no string \`name\``);
    }
    if (label != null && typeof label !== "string") {
      throw invalid(`${where}'s \`label\` is not a string`);
    }
    if (dataType != null && (typeof dataType !== "object" || Array.isArray(dataType))) {
      throw invalid(`${where}'s \`dataType\` is not an object`);
    }
    if (dataType?.type != null && typeof dataType.type !== "string") {
      throw invalid(`${where}'s \`dataType.type\` is not a string`);
    }
    return { name, label, dataType };
  });
}

function invalid(reason) {
  return new UpstreamError(`backend answered invalid JSON: ${reason}`);
}

// A JSON object with these entries in order. Written by hand because two
// columns may share a name, and an object would keep only the last, where
// the schema keeps both, as the table has them.
function object(entries) {
  return `{${entries.map(([name, value]) => `${JSON.stringify(name)}:${JSON.stringify(value)}`).join(",")}}`;
}

// The JSON type of a Tulip column type.
function jsonType(tulipType) {
  switch (tulipType) {
    case "interval":
    case "float":
      return "number";
    case "color":
      return "object";
    // timestamp, imageUrl, fileUrl, user, station, machine, tableLink and
    // anything unknown travel as text.
    default:
      return "string";
  }
}
