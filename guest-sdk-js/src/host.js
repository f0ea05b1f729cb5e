// The parts of the SDK that call the host through the contract's imports:
// `send`, `log` and the call's `Context`. Only a component can load this
// module; the rest of the SDK also runs in plain node.

import { send as backendSend } from "sluice:connector/backend@0.1.0";
import { timeLeftMs } from "sluice:connector/call@0.1.0";
import { write } from "sluice:connector/log@0.1.0";

import { SendError } from "./errors.js";
import { Request, requestToWit, responseFromWit } from "./http.js";

/** Sends a request to a backend and waits for its response: the only way out
 * of the sandbox. Any status, 4xx and 5xx included, is a response; no
 * response at all throws a `SendError`.
 *
 * The host checks the call against the connector's egress rules first; a
 * refusal is a `SendError` of kind `denied`. Redirects are not followed.
 * Each call counts against the call's limit on backend calls.
 * @param {Request} request
 * @returns {import("./http.js").Response} */
export function send(request) {
  if (!(request instanceof Request)) {
    throw new TypeError("send takes a Request from \"sluice\"");
  }
  let answer;
  try {
    answer = backendSend(requestToWit(request));
  } catch (error) {
    // The bindings throw a `send-error` as an error whose `payload` is the
    // variant; anything else is a failure of the bindings themselves.
    if (error?.payload?.tag !== undefined) {
      throw SendError.fromWit(error.payload);
    }
    throw error;
  }
  return responseFromWit(answer);
}

/** Log lines, attributed to the call by the host: `log.info("...")` and so
 * on for each level. Lines beyond the call's log budget end the call. */
export const log = {
  /** Fine-grained detail. */
  trace: (message) => write("trace", String(message)),
  /** Detail useful when debugging. */
  debug: (message) => write("debug", String(message)),
  /** Normal operation. */
  info: (message) => write("info", String(message)),
  /** Something unexpected that the code handled. */
  warn: (message) => write("warn", String(message)),
  /** Something failed. */
  error: (message) => write("error", String(message)),
};

// The component has no stdio, so `console` would print nowhere; its lines
// go to the call's log instead, `console.log` at info level.
for (const [method, level] of [
  ["trace", "trace"],
  ["debug", "debug"],
  ["log", "info"],
  ["info", "info"],
  ["warn", "warn"],
  ["error", "error"],
]) {
  console[method] = (...values) => write(level, values.map(consoleText).join(" "));
}

function consoleText(value) {
  if (typeof value === "string") {
    return value;
  }
  if (value instanceof Error) {
    return `${value.name}: ${value.message}`;
  }
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** What the code knows about the call it serves. */
export class Context {
  /** @param {{connectorId: string, operationId: string, correlationId: string, originalUrl: string}} context
   * the contract's `context` record. */
  constructor({ connectorId, operationId, correlationId, originalUrl }) {
    /** The connector's id, as the gateway names it. */
    this.connectorId = connectorId;
    /** The `operationId` being called. */
    this.operationId = operationId;
    /** The id tying the call's logs, backend calls and error answers together. */
    this.correlationId = correlationId;
    /** The URL the client called on the gateway; webhook operations build
     * their `Location` header from it. */
    this.originalUrl = originalUrl;
  }

  /** Milliseconds left before the call's deadline; backend calls count.
   * Asks the host each time it is read. */
  get timeLeft() {
    return Number(timeLeftMs());
  }
}
