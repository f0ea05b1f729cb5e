// The `sluice` module that connector code imports:
// `import { Response, send, log, ClientError } from "sluice";`.

export { ClientError, SendError, UpstreamError } from "./errors.js";
export { Headers, Request, Response } from "./http.js";
export { Context, log, send } from "./host.js";
export { AssetError, readAsset, readTextAsset } from "./assets.js";
