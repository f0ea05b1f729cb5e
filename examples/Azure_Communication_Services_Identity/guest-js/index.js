// Azure Communication Services Identity's custom code: signs every call
// with HMAC-SHA256, as the service requires, using the resource's
// connection string, and sends it to the resource's endpoint.
//
// The connection string arrives in the `Connection-String` header (the
// connection's API key; the package's `sluice.toml` lets the code see it)
// and is removed before sending. It is `;`-separated
// `endpoint=<url>;accesskey=<base64 key>`, prefixes case-insensitive.
// The signature covers `METHOD\n<path and query>\n<date>;<host>;<body hash>`.
//
// Build: `sluice build` in the package folder, or
// `node guest-sdk-js/build.mjs --guest examples/Azure_Communication_Services_Identity/guest-js --wit wit --out script.wasm`.

import { ClientError, Response, send } from "sluice";

// The operations the code knows; any other id is answered 400.
const OPERATIONS = [
  "CreateCommunicationIdentity",
  "DeleteCommunicationIdentity",
  "IssueIdentityAccessToken",
  "RevokeIdentityAccessTokens",
];

// The header the connection puts the connection string in.
const CONNECTION_STRING_HEADER = "Connection-String";

const encoder = new TextEncoder();

export async function handle(request, ctx) {
  const operation = ctx.operationId;
  if (!OPERATIONS.includes(operation)) {
    return Response.json(400, [{ error: `Unknown operation ID '${operation}'` }]);
  }
  const connectionString = request.header(CONNECTION_STRING_HEADER);
  if (connectionString === null) {
    throw new ClientError(400, "the connection string is missing");
  }
  request.headers.remove(CONNECTION_STRING_HEADER);
  const connection = parseConnectionString(connectionString);

  const url = new URL(request.url);
  url.protocol = connection.endpoint.protocol;
  url.hostname = connection.endpoint.hostname;
  url.port = connection.endpoint.port;
  // `url.search` is empty both without a query and with an empty one; the
  // signature keeps the `?` of an empty query, as the URL has it.
  const hasQuery = url.href.split("#")[0].includes("?");
  const pathAndQuery = hasQuery ? `${url.pathname}?${url.search.slice(1)}` : url.pathname;
  const contentHash = base64(await crypto.subtle.digest("SHA-256", request.body));
  const date = new Date().toUTCString();
  const stringToSign = `${asciiUpperCase(request.method)}\n${pathAndQuery}\n${date};${url.host};${contentHash}`;
  const key = await crypto.subtle.importKey("raw", connection.key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const signature = base64(await crypto.subtle.sign("HMAC", key, encoder.encode(stringToSign)));

  request.url = url.href;
  request.headers.set("Date", date);
  request.headers.set("x-ms-content-sha256", contentHash);
  request.headers.set("Authorization", `HMAC-SHA256 SignedHeaders=date;host;x-ms-content-sha256&Signature=${signature}`);
  return send(request);
}

// The endpoint and the key of `endpoint=...;accesskey=...`; a missing, empty
// or malformed part is the client's mistake. Messages never quote the key.
function parseConnectionString(text) {
  let endpoint = "";
  let key = "";
  for (const part of text.split(";")) {
    const equals = part.indexOf("=");
    if (equals === -1) {
      continue;
    }
    const name = part.slice(0, equals).trim();
    const value = part.slice(equals + 1).trim();
    if (/^endpoint$/i.test(name)) {
      endpoint = value;
    } else if (/^accesskey$/i.test(name)) {
      key = value;
    }
  }
  if (endpoint === "") {
    throw new ClientError(400, "the connection string has no `endpoint=`");
  }
  if (key === "") {
    throw new ClientError(400, "the connection string has no `accesskey=`");
  }
  let url = null;
  try {
    url = new URL(endpoint);
  } catch {
    // Reported below, with the other ways an endpoint can be unusable.
  }
  if (url === null || (url.protocol !== "http:" && url.protocol !== "https:") || url.hostname === "") {
    throw new ClientError(400, "the connection string's endpoint is not an http(s) URL");
  }
  const bytes = strictBase64Decode(key);
  if (bytes === null) {
    throw new ClientError(400, "the connection string's access key is not base64");
  }
  return { endpoint: url, key: bytes };
}

// Standard base64 with canonical padding and no stray bits, as the service
// writes keys; `null` for anything else (`atob` would accept more).
function strictBase64Decode(text) {
  const form = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$/;
  if (!form.test(text)) {
    return null;
  }
  return Uint8Array.from(atob(text), (char) => char.charCodeAt(0));
}

function base64(buffer) {
  return btoa(String.fromCharCode(...new Uint8Array(buffer)));
}

function asciiUpperCase(text) {
  return text.replace(/[a-z]+/g, (letters) => letters.toUpperCase());
}
