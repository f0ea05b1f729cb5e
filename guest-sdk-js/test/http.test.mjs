// The SDK's pure parts in plain node: headers, messages, query and URL
// helpers, JSON and text helpers, and the conversion to the contract's records.

import assert from "node:assert/strict";
import { test } from "node:test";

import { ClientError, UpstreamError } from "../src/errors.js";
import { Headers, Request, Response, requestFromWit, responseToWit } from "../src/http.js";

test("header names compare case-insensitively", () => {
  const headers = new Headers([["Content-Type", "text/plain"], ["X-Thing", "1"]]);
  assert.equal(headers.get("content-type"), "text/plain");
  headers.set("CONTENT-TYPE", "application/json");
  assert.deepEqual(headers.getAll("content-type"), ["application/json"]);
  assert.equal(headers.remove("x-thing"), true);
  assert.equal(headers.remove("x-thing"), false);
  assert.equal(headers.size, 1);
  assert.equal(headers.get("missing"), null);
  assert.equal(headers.has("Content-type"), true);
});

test("append keeps every value in order", () => {
  const headers = new Headers({ Accept: "*/*" });
  headers.append("Set-Cookie", "a=1");
  headers.append("set-cookie", "b=2");
  assert.deepEqual(headers.getAll("SET-COOKIE"), ["a=1", "b=2"]);
  assert.equal(headers.get("set-cookie"), "a=1");
  assert.deepEqual([...headers], [["Accept", "*/*"], ["Set-Cookie", "a=1"], ["set-cookie", "b=2"]]);
});

test("setQuery replaces and keeps the other parameters", () => {
  const request = Request.get("https://api.example/items?a=1&b=2&a=3");
  request.setQuery("a", "x y");
  assert.equal(request.url, "https://api.example/items?b=2&a=x+y");
  assert.equal(request.query("a"), "x y");
  request.removeQuery("b");
  request.removeQuery("a");
  assert.equal(request.url, "https://api.example/items");
  assert.equal(request.query("a"), null);
});

test("appendQuery keeps earlier values and the query as written", () => {
  const request = Request.get("https://api.example/");
  request.appendQuery("name[]", "ann");
  request.appendQuery("name[]", "bo b");
  assert.equal(request.url, "https://api.example/?name%5B%5D=ann&name%5B%5D=bo+b");
  assert.deepEqual(request.queryAll("name[]"), ["ann", "bo b"]);
  const other = Request.get("https://api.example/types?count=2&organization=a");
  other.appendQuery("organization", "b");
  assert.equal(other.url, "https://api.example/types?count=2&organization=a&organization=b");
});

test("setHost keeps port, path and query, and refuses what is not a host", () => {
  const request = Request.get("https://api.example:8443/v1/items?x=1");
  request.setHost("eu.api.example");
  assert.equal(request.url, "https://eu.api.example:8443/v1/items?x=1");
  for (const bad of ["bad host", "h:1", "h:", "a/b", "user@h", ""]) {
    assert.throws(() => request.setHost(bad), TypeError, bad);
  }
  assert.equal(request.url, "https://eu.api.example:8443/v1/items?x=1");
});

test("setPath percent-encodes and keeps the query", () => {
  const request = Request.get("https://api.example/old?x=1");
  request.setPath("/new path/ü");
  assert.equal(request.url, "https://api.example/new%20path/%C3%BC?x=1");
  assert.equal(request.path(), "/new%20path/%C3%BC");
  assert.throws(() => new Request("GET", "not a url").path(), TypeError);
});

test("invalid request JSON is a client error and invalid backend JSON an upstream one", () => {
  const request = new Request("POST", "https://api.example/", { body: "{" });
  assert.throws(() => request.json(), (error) => error instanceof ClientError && error.status === 400);
  const response = Response.text(200, "<html>");
  assert.throws(() => response.json(), UpstreamError);
  const invalidUtf8 = new Response(200, { body: new Uint8Array([0xff]) });
  assert.throws(() => invalidUtf8.text(), UpstreamError);
});

test("Response.json sets content-type and the body", () => {
  const response = Response.json(201, { ok: true });
  assert.equal(response.header("Content-Type"), "application/json");
  assert.equal(new TextDecoder().decode(response.body), '{"ok":true}');
  assert.deepEqual(response.json(), { ok: true });
  assert.equal(response.ok, true);
  assert.throws(() => Response.json(200, undefined), TypeError);
});

test("bodies take strings, bytes and buffers, and nothing else", () => {
  const request = Request.post("https://api.example/");
  request.body = "héllo";
  assert.deepEqual([...request.body], [0x68, 0xc3, 0xa9, 0x6c, 0x6c, 0x6f]);
  request.body = new Uint8Array([1, 2]).buffer;
  assert.deepEqual([...request.body], [1, 2]);
  assert.throws(() => {
    request.body = 5;
  }, TypeError);
});

test("the contract's records convert both ways, headers in order", () => {
  const request = requestFromWit({
    method: "GET",
    url: "https://api.example/",
    headers: [{ name: "A", value: "1" }, { name: "a", value: "2" }],
    body: new Uint8Array([104, 105]),
  });
  assert.deepEqual(request.headers.getAll("a"), ["1", "2"]);
  assert.equal(request.text(), "hi");
  const record = responseToWit(Response.text(200, "ok").withHeader("x-one", 1));
  assert.deepEqual(record.headers, [
    { name: "content-type", value: "text/plain; charset=utf-8" },
    { name: "x-one", value: "1" },
  ]);
  assert.throws(() => responseToWit(new Response(70000)), TypeError);
});
