// HTTP messages: `Headers`, `Request` and `Response`, with the JSON, text,
// query and URL helpers, and their conversion to and from the contract's
// records. Plain JavaScript: it imports nothing from the contract, so node
// can test it.

import { ClientError, UpstreamError } from "./errors.js";

const encoder = new TextEncoder();
// `fatal` so that invalid UTF-8 is reported instead of silently replaced.
const decoder = new TextDecoder("utf-8", { fatal: true });

/** HTTP headers in order. Names compare case-insensitively, as HTTP says; a
 * name may appear more than once. Iterating gives `[name, value]` pairs. */
export class Headers {
  #entries = [];

  /** @param {Iterable<[string, string]>|Record<string, string>} [init]
   * pairs, or an object whose properties are the headers. */
  constructor(init = []) {
    const pairs = Symbol.iterator in Object(init) ? init : Object.entries(init);
    for (const [name, value] of pairs) {
      this.append(name, value);
    }
  }

  /** The first value of `name`, or `null`. */
  get(name) {
    const entry = this.#entries.find(([n]) => sameName(n, name));
    return entry ? entry[1] : null;
  }

  /** Every value of `name`, in order. */
  getAll(name) {
    return this.#entries.filter(([n]) => sameName(n, name)).map(([, v]) => v);
  }

  /** Whether `name` is present. */
  has(name) {
    return this.get(name) !== null;
  }

  /** Sets `name` to `value`, replacing every earlier value. */
  set(name, value) {
    this.remove(name);
    this.append(name, value);
  }

  /** Adds a value for `name`, keeping earlier ones. */
  append(name, value) {
    this.#entries.push([String(name), String(value)]);
  }

  /** Removes every value of `name`; returns whether there was one. */
  remove(name) {
    const before = this.#entries.length;
    this.#entries = this.#entries.filter(([n]) => !sameName(n, name));
    return this.#entries.length !== before;
  }

  /** How many header lines there are. */
  get size() {
    return this.#entries.length;
  }

  /** The headers, in order, as `[name, value]` pairs. */
  *[Symbol.iterator]() {
    for (const [name, value] of this.#entries) {
      yield [name, value];
    }
  }
}

function sameName(a, b) {
  return a.toLowerCase() === String(b).toLowerCase();
}

/** An HTTP request: the one the client made (after credentials and request
 * policies), or one the code sends with `send`. `method` and `url` are plain
 * properties; `body` is a `Uint8Array` and takes a string (as UTF-8), a
 * `Uint8Array` or an `ArrayBuffer`. */
export class Request {
  #body = new Uint8Array();

  /** @param {string} method e.g. `GET`. @param {string} url absolute.
   * @param {{headers?: Headers|Iterable<[string,string]>|Record<string,string>, body?: string|Uint8Array|ArrayBuffer}} [init] */
  constructor(method, url, { headers, body } = {}) {
    /** The method, e.g. `GET`. */
    this.method = String(method);
    /** The absolute URL. */
    this.url = String(url);
    /** The headers. */
    this.headers = headers instanceof Headers ? headers : new Headers(headers);
    if (body !== undefined) {
      this.body = body;
    }
  }

  /** A `GET` request with no headers and no body. */
  static get(url) {
    return new Request("GET", url);
  }

  /** A `POST` request with no headers and no body. */
  static post(url) {
    return new Request("POST", url);
  }

  /** The body bytes; empty when there is none. */
  get body() {
    return this.#body;
  }

  set body(value) {
    this.#body = toBytes(value);
  }

  /** The first value of header `name` (case-insensitive), or `null`. */
  header(name) {
    return this.headers.get(name);
  }

  /** Sets a header, replacing earlier values; returns the request, for chaining. */
  withHeader(name, value) {
    this.headers.set(name, value);
    return this;
  }

  /** The body as text; invalid UTF-8 is the client's mistake (`ClientError` 400). */
  text() {
    try {
      return decoder.decode(this.#body);
    } catch (error) {
      throw new ClientError(400, `request body is not UTF-8: ${error.message}`);
    }
  }

  /** The body parsed as JSON; invalid JSON is the client's mistake (`ClientError` 400). */
  json() {
    const text = this.text();
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new ClientError(400, `request body is not valid JSON: ${error.message}`);
    }
  }

  /** Replaces the body with `value` as JSON and sets `content-type`. */
  setJson(value) {
    setJson(this, value);
  }

  /** The URL's path, percent-encoded as sent. */
  path() {
    return this.#parsedUrl().pathname;
  }

  /** Replaces the path, keeping scheme, host and query; characters a path
   * cannot hold are percent-encoded. */
  setPath(path) {
    const url = this.#parsedUrl();
    url.pathname = path;
    this.url = url.href;
  }

  /** The first value of query parameter `name`, percent-decoded, or `null`
   * (also when the URL does not parse). */
  query(name) {
    return parseUrl(this.url)?.searchParams.get(name) ?? null;
  }

  /** Every value of query parameter `name`, percent-decoded, in order. */
  queryAll(name) {
    return parseUrl(this.url)?.searchParams.getAll(name) ?? [];
  }

  /** Sets query parameter `name` to `value`, replacing earlier values and
   * keeping the other parameters in order. */
  setQuery(name, value) {
    this.#editQuery(name, value);
  }

  /** Adds `name=value` after the existing parameters, keeping earlier values
   * of `name` and the rest of the query as it was written: for lists such as
   * `name[]=a&name[]=b`, or to append `&name=value` as a script would. */
  appendQuery(name, value) {
    const url = this.#parsedUrl();
    const pair = new URLSearchParams([[name, value]]).toString();
    const query = url.search.slice(1);
    url.search = query ? `${query}&${pair}` : pair;
    this.url = url.href;
  }

  /** Removes every value of query parameter `name`. */
  removeQuery(name) {
    this.#editQuery(name, undefined);
  }

  /** Sends the request to another host, keeping scheme, port, path and
   * query. Throws a `TypeError` for a host a URL cannot have. The host must
   * still be allowed by the connector's egress rules. */
  setHost(host) {
    const url = this.#parsedUrl();
    const parsed = /[/?#@\\]/.test(host) ? null : parseUrl(`${url.protocol}//${host}`);
    // A port in `host` would be silently taken or dropped by the URL setter.
    if (parsed === null || parsed.host !== parsed.hostname || host.endsWith(":")) {
      throw new TypeError(`\`${host}\` is not a host name`);
    }
    url.hostname = parsed.hostname;
    this.url = url.href;
  }

  #editQuery(name, value) {
    const url = this.#parsedUrl();
    url.searchParams.delete(name);
    if (value !== undefined) {
      url.searchParams.append(name, value);
    }
    if (url.searchParams.toString() === "") {
      url.search = "";
    }
    this.url = url.href;
  }

  #parsedUrl() {
    const url = parseUrl(this.url);
    if (url === null) {
      throw new TypeError(`request URL \`${this.url}\` is not an absolute URL`);
    }
    return url;
  }
}

function parseUrl(text) {
  try {
    return new URL(text);
  } catch {
    return null;
  }
}

/** An HTTP response: a backend's, or the one the code returns. `status` is a
 * plain property; `body` is a `Uint8Array` and takes a string (as UTF-8), a
 * `Uint8Array` or an `ArrayBuffer`. */
export class Response {
  #body = new Uint8Array();

  /** @param {number} status 100 to 599.
   * @param {{headers?: Headers|Iterable<[string,string]>|Record<string,string>, body?: string|Uint8Array|ArrayBuffer}} [init] */
  constructor(status, { headers, body } = {}) {
    /** The status code. */
    this.status = status;
    /** The headers. */
    this.headers = headers instanceof Headers ? headers : new Headers(headers);
    if (body !== undefined) {
      this.body = body;
    }
  }

  /** A response whose body is `value` as JSON, with `content-type: application/json`. */
  static json(status, value) {
    const response = new Response(status);
    response.setJson(value);
    return response;
  }

  /** A `text/plain; charset=utf-8` response. */
  static text(status, text) {
    return new Response(status, {
      headers: [["content-type", "text/plain; charset=utf-8"]],
      body: String(text),
    });
  }

  /** The body bytes; empty when there is none. */
  get body() {
    return this.#body;
  }

  set body(value) {
    this.#body = toBytes(value);
  }

  /** Whether the status is 2xx. */
  get ok() {
    return this.status >= 200 && this.status <= 299;
  }

  /** The first value of header `name` (case-insensitive), or `null`. */
  header(name) {
    return this.headers.get(name);
  }

  /** Sets a header, replacing earlier values; returns the response, for chaining. */
  withHeader(name, value) {
    this.headers.set(name, value);
    return this;
  }

  /** The body as text; invalid UTF-8 is an upstream failure (`UpstreamError`, 502). */
  text() {
    try {
      return decoder.decode(this.#body);
    } catch (error) {
      throw new UpstreamError(`backend body is not UTF-8: ${error.message}`);
    }
  }

  /** The body parsed as JSON; invalid JSON is an upstream failure (`UpstreamError`, 502). */
  json() {
    const text = this.text();
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new UpstreamError(`backend answered invalid JSON: ${error.message}`);
    }
  }

  /** Replaces the body with `value` as JSON and sets `content-type`. */
  setJson(value) {
    setJson(this, value);
  }
}

function setJson(message, value) {
  const text = JSON.stringify(value);
  if (text === undefined) {
    throw new TypeError(`a ${typeof value} cannot be written as JSON`);
  }
  message.body = text;
  message.headers.set("content-type", "application/json");
}

function toBytes(value) {
  if (typeof value === "string") {
    return encoder.encode(value);
  }
  // Not `instanceof`: the contract's bindings make their byte arrays in
  // another realm of the engine, whose `Uint8Array` is a different class.
  if (ArrayBuffer.isView(value) && Object.prototype.toString.call(value) === "[object Uint8Array]") {
    return value instanceof Uint8Array ? value : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }
  if (Object.prototype.toString.call(value) === "[object ArrayBuffer]") {
    return new Uint8Array(value);
  }
  throw new TypeError(`a body is a string, Uint8Array or ArrayBuffer, not ${value === null ? "null" : typeof value}`);
}

/** The SDK's `Request` for a contract `request` record. */
export function requestFromWit({ method, url, headers, body }) {
  return new Request(method, url, { headers: fromWitHeaders(headers), body });
}

/** The contract's `request` record for a `Request`. */
export function requestToWit(request) {
  return { method: request.method, url: request.url, headers: toWitHeaders(request.headers), body: request.body };
}

/** The SDK's `Response` for a contract `response` record. */
export function responseFromWit({ status, headers, body }) {
  return new Response(status, { headers: fromWitHeaders(headers), body });
}

/** The contract's `response` record for a `Response`. Throws a `TypeError`
 * for a status the contract cannot carry, so that it fails the call as an
 * internal error rather than being cut to 16 bits. */
export function responseToWit(response) {
  const { status } = response;
  if (!Number.isInteger(status) || status < 100 || status > 599) {
    throw new TypeError(`a response status is an integer from 100 to 599, not ${status}`);
  }
  return { status, headers: toWitHeaders(response.headers), body: response.body };
}

function fromWitHeaders(headers) {
  return new Headers(headers.map(({ name, value }) => [name, value]));
}

function toWitHeaders(headers) {
  return Array.from(headers, ([name, value]) => ({ name, value }));
}
