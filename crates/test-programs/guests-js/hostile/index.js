// A JavaScript test guest whose behaviour is chosen by the operation id:
// answers that show the SDK works, and the ways JavaScript code can
// misbehave, so that the runtime's limits and the SDK's error mapping can be
// tested from both sides.
//
// Build: `node guest-sdk-js/build.mjs --guest crates/test-programs/guests-js/hostile
// --wit wit --out hostile.wasm` from the repository root.

import {
  AssetError,
  ClientError,
  Request,
  Response,
  SendError,
  UpstreamError,
  log,
  readAsset,
  readTextAsset,
  send,
} from "sluice";
// The raw WASI interface, to try what the SDK does not offer: writing.
import { getDirectories } from "wasi:filesystem/preopens@0.2.0";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function handle(request, ctx) {
  switch (ctx.operationId) {
    case "Echo":
      return Response.json(200, { method: request.method, url: request.url, body: decoder.decode(request.body) });
    case "Transform":
      // A module has either `handle` or the hooks; this one needs both, so
      // it runs its hooks the way the SDK runs a transform's.
      return itemsResponse(send(itemsRequest(request)));
    case "Loop":
      for (;;) {
        // Spins until the fuel or the deadline ends the call.
      }
    case "Grow": {
      const hoard = [];
      for (;;) {
        hoard.push(new Uint8Array(1 << 20).fill(1));
      }
    }
    case "Throw":
      throw new Error("boom: the guest failed on purpose");
    case "ClientError":
      throw new ClientError(422, "name is required");
    case "LogFlood": {
      const line = "x".repeat(1024);
      for (;;) {
        log.info(line);
      }
    }
    case "ReadAsset":
      try {
        return Response.text(200, readTextAsset("/assets/greeting.txt"));
      } catch (error) {
        throw error instanceof AssetError ? new ClientError(404, error.message) : error;
      }
    case "WriteAsset":
      try {
        writeAsset("new.txt", "written by the guest");
        return Response.text(200, "wrote");
      } catch (error) {
        throw new ClientError(403, error.message);
      }
    case "EscapeAsset": {
      const failures = [];
      // `link.txt`, where a test puts it, links to a file outside the assets.
      for (const path of ["/assets/../etc/passwd", "/etc/passwd", "/assets/link.txt"]) {
        try {
          readAsset(path);
          return Response.text(200, "escaped");
        } catch (error) {
          failures.push(error.message);
        }
      }
      throw new ClientError(403, failures.join("; "));
    }
    case "Send":
      try {
        return send(Request.get(request.url));
      } catch (error) {
        throw error instanceof SendError ? new UpstreamError(`${error.kind}: ${error.message}`) : error;
      }
    default:
      throw new ClientError(400, `unknown operation ${ctx.operationId}`);
  }
}

// The canonical transform's request hook: marks the request.
function itemsRequest(request) {
  return request.withHeader("x-sluice", "1");
}

// The canonical transform's response hook: wraps a 2xx JSON array of items
// as `{"count": n, "items": [...]}`.
function itemsResponse(response) {
  if (!response.ok) {
    return response;
  }
  const items = response.json();
  if (!Array.isArray(items)) {
    throw new UpstreamError("backend answered invalid JSON: expected an array of items");
  }
  return Response.json(200, { count: items.length, items });
}

// Creates `name` in the assets folder through WASI, which the host must refuse.
function writeAsset(name, text) {
  const assets = getDirectories().find(([, path]) => path === "/assets");
  if (assets === undefined) {
    throw new AssetError(`/assets/${name}`, "no-entry");
  }
  try {
    const file = assets[0].openAt({}, name, { create: true, truncate: true }, { write: true });
    file.write(encoder.encode(text), 0n);
  } catch (error) {
    throw typeof error?.payload === "string" ? new AssetError(`/assets/${name}`, error.payload) : error;
  }
}
