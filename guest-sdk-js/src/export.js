// The glue between an author's module and the contract's `handler` export:
// it runs the full handler, or the transform hooks around one `send`, and
// turns whatever the code throws into the contract's `error` variant. The
// entry module that the build generates is `export const handler =
// exportHandler(authorModule)`.

import { toWitError } from "./errors.js";
import { Request, Response, requestFromWit, responseToWit } from "./http.js";
import { Context, send } from "./host.js";

/** The `handler` export for an author's module, which exports either
 * `handle(request, ctx)` or one or both of `onRequest(request, ctx)` and
 * `onResponse(response, ctx)`. The build checks which; this checks that they
 * are functions, once, when the module is snapshotted. */
export function exportHandler(code) {
  const { handle, onRequest, onResponse } = code;
  for (const [name, value] of Object.entries({ handle, onRequest, onResponse })) {
    if (value !== undefined && typeof value !== "function") {
      throw new TypeError(`the guest's \`${name}\` export is a ${typeof value}, not a function`);
    }
  }
  const run = handle ?? transform(onRequest, onResponse);
  return {
    // The result is returned as an explicit `{tag, val}` so that nothing
    // depends on how the bindings treat a thrown value: they turn an `Error`
    // without a `payload` into a trap, and every failure here must become
    // the `error` variant instead.
    async handle(witContext, witRequest) {
      try {
        const response = await run(requestFromWit(witRequest), new Context(witContext));
        expect(response, Response, handle ? "handle" : "onResponse");
        return { tag: "ok", val: responseToWit(response) };
      } catch (thrown) {
        return { tag: "err", val: toWitError(thrown) };
      }
    },
  };
}

// A full handler made of the hooks: onRequest, send, onResponse. A hook the
// module leaves out passes its message through unchanged.
function transform(onRequest, onResponse) {
  return async (request, ctx) => {
    if (onRequest) {
      request = await onRequest(request, ctx);
      expect(request, Request, "onRequest");
    }
    const response = send(request);
    return onResponse ? onResponse(response, ctx) : response;
  };
}

function expect(value, type, hook) {
  if (!(value instanceof type)) {
    const got = value === null ? "null" : (value?.constructor?.name ?? typeof value);
    throw new TypeError(`\`${hook}\` must return a ${type.name} from "sluice", not ${got}`);
  }
}
