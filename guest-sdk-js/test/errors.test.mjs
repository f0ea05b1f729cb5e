// How thrown values become the contract's `error` variant, in plain node.

import assert from "node:assert/strict";
import { test } from "node:test";

import { ClientError, SendError, UpstreamError, toWitError } from "../src/errors.js";

test("ClientError refuses statuses outside 400 to 499", () => {
  assert.throws(() => new ClientError(500, "no"), RangeError);
  assert.throws(() => new ClientError(399, "no"), RangeError);
  assert.throws(() => new ClientError(404.5, "no"), RangeError);
  assert.equal(new ClientError(499, "yes").status, 499);
});

test("each error becomes its variant", () => {
  assert.deepEqual(toWitError(new ClientError(422, "name is required")), {
    tag: "client",
    val: { status: 422, message: "name is required" },
  });
  assert.deepEqual(toWitError(new UpstreamError("bad gateway")), { tag: "upstream", val: "bad gateway" });
  assert.deepEqual(toWitError(new SendError("denied", "host not allowed")), {
    tag: "upstream",
    val: "backend call failed: denied by egress policy: host not allowed",
  });
  assert.deepEqual(toWitError(new TypeError("x is not a function")), {
    tag: "internal",
    val: "TypeError: x is not a function",
  });
});

test("anything else thrown is internal, even a value that cannot be shown", () => {
  assert.deepEqual(toWitError("plain"), { tag: "internal", val: "uncaught string: plain" });
  assert.equal(toWitError(Object.create(null)).tag, "internal");
  assert.equal(toWitError(undefined).val, "uncaught undefined: undefined");
});

test("SendError reads like the Rust SDK's and keeps its kind", () => {
  const timeout = SendError.fromWit({ tag: "timeout" });
  assert.equal(timeout.message, "backend timed out");
  assert.equal(timeout.kind, "timeout");
  const failed = SendError.fromWit({ tag: "failed", val: "reset" });
  assert.equal(failed.message, "backend connection failed: reset");
  assert.equal(failed.reason, "reset");
  assert.throws(() => new SendError("nope"), RangeError);
});
