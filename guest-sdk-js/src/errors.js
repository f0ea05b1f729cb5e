// The errors code throws to choose the client's answer (`ClientError`,
// `UpstreamError`), the error `send` throws (`SendError`), and how a thrown
// value becomes the contract's `error` variant. Plain JavaScript: it imports
// nothing from the contract, so node can test it.

/** Throw it to answer the client with a 4xx status and a message: the typed
 * form of the platform's `EXPECTED400: ...` habit. The status must be an
 * integer from 400 to 499; any other is refused with a `RangeError`, which
 * then fails the call as an internal error. */
export class ClientError extends Error {
  /** @param {number} status 400 to 499. @param {string} message what the client reads. */
  constructor(status, message) {
    if (!Number.isInteger(status) || status < 400 || status > 499) {
      throw new RangeError(`ClientError takes a status from 400 to 499, not ${status}`);
    }
    super(String(message));
    this.name = "ClientError";
    /** The status the client gets. */
    this.status = status;
  }
}

/** Throw it when the backend failed or answered something the code cannot
 * use: the client gets a 502 with the message. */
export class UpstreamError extends Error {
  /** @param {string} message what went wrong with the backend. */
  constructor(message) {
    super(String(message));
    this.name = "UpstreamError";
  }
}

// How each kind of `send-error` reads; the same words as the Rust SDK's.
const SEND_ERROR_TEXT = {
  denied: "denied by egress policy",
  "invalid-request": "invalid request",
  unreachable: "backend unreachable",
  timeout: "backend timed out",
  failed: "backend connection failed",
};

/** Why `send` produced no response. A response with any status, 4xx and 5xx
 * included, is not an error. Left uncaught it fails the call as an upstream
 * error (502), like the Rust SDK's `?`. */
export class SendError extends Error {
  /** @param {"denied"|"invalid-request"|"unreachable"|"timeout"|"failed"} kind
   * @param {string} [reason] the host's words; `timeout` has none. */
  constructor(kind, reason = "") {
    if (!(kind in SEND_ERROR_TEXT)) {
      throw new RangeError(`unknown SendError kind ${JSON.stringify(kind)}`);
    }
    super(reason ? `${SEND_ERROR_TEXT[kind]}: ${reason}` : SEND_ERROR_TEXT[kind]);
    this.name = "SendError";
    /** Which failure: `denied`, `invalid-request`, `unreachable`, `timeout` or `failed`. */
    this.kind = kind;
    /** The host's explanation, empty for `timeout`. */
    this.reason = reason;
  }

  /** The error for a contract `send-error` value, `{tag, val}`. */
  static fromWit(value) {
    return new SendError(value.tag, value.val ?? "");
  }
}

/** The contract's `error` variant for a value the code threw: `ClientError`
 * and `UpstreamError` as chosen, an uncaught `SendError` as upstream, and
 * anything else as internal, with the exception's type and message. */
export function toWitError(thrown) {
  if (thrown instanceof ClientError) {
    return { tag: "client", val: { status: thrown.status, message: thrown.message } };
  }
  if (thrown instanceof UpstreamError) {
    return { tag: "upstream", val: thrown.message };
  }
  if (thrown instanceof SendError) {
    return { tag: "upstream", val: `backend call failed: ${thrown.message}` };
  }
  return { tag: "internal", val: describe(thrown) };
}

// `Error: message` for errors, the value's text for anything else thrown.
// Never throws itself: a value whose `toString` fails is still described.
function describe(thrown) {
  try {
    if (thrown instanceof Error) {
      return `${thrown.name}: ${thrown.message}`;
    }
    return `uncaught ${typeof thrown}: ${String(thrown)}`;
  } catch {
    return `uncaught ${typeof thrown} that cannot be shown as text`;
  }
}
