// The canonical transform, written with the transform hooks: the request
// gets `x-sluice: 1`; the backend's JSON array of items comes back wrapped
// as `{"count": n, "items": [...]}`. Any other answer passes through.
//
// Build: `sluice build` in the package folder, or
// `node guest-sdk-js/build.mjs --guest examples/items-transform/guest-js --wit wit --out script.wasm`.

import { Response, UpstreamError } from "sluice";

export function onRequest(request) {
  return request.withHeader("x-sluice", "1");
}

export function onResponse(response) {
  if (!response.ok) {
    return response;
  }
  const items = response.json();
  if (!Array.isArray(items)) {
    throw new UpstreamError("backend answered invalid JSON: expected an array of items");
  }
  return Response.json(200, { count: items.length, items: items.map(item) });
}

// One item as the backend sends it, with its fields in order; anything else
// is not an item.
function item(value, index) {
  const { id, name, ok } = value ?? {};
  if (!Number.isSafeInteger(id) || id < 0 || typeof name !== "string" || typeof ok !== "boolean") {
    throw new UpstreamError(`backend answered invalid JSON: item ${index} is not {"id": number, "name": string, "ok": bool}`);
  }
  return { id, name, ok };
}
