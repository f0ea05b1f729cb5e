// Reading the package's `assets` folder (schemas, templates, lookup tables),
// which the host opens read-only for every call at `/assets`. JavaScript has
// no file API of its own in the engine; this one goes through WASI.

import { getDirectories } from "wasi:filesystem/preopens@0.2.0";

// How much one `read` asks the host for.
const CHUNK = 64n * 1024n;

const decoder = new TextDecoder("utf-8", { fatal: true });

/** Why an asset could not be read. `code` is WASI's name for the failure,
 * e.g. `no-entry` (no such file) or `not-permitted` (outside the folder). */
export class AssetError extends Error {
  /** @param {string} path the path asked for. @param {string} code WASI's error code. */
  constructor(path, code) {
    super(`${path}: ${DESCRIPTIONS[code] ?? code}`);
    this.name = "AssetError";
    /** WASI's error code, e.g. `no-entry`. */
    this.code = code;
    /** The path asked for. */
    this.path = path;
  }
}

const DESCRIPTIONS = {
  "no-entry": "no such file or directory",
  "not-permitted": "operation not permitted",
  access: "permission denied",
  "read-only": "read-only file system",
  "is-directory": "is a directory",
  "not-directory": "not a directory",
};

/** The bytes of the file at `path`, e.g. `/assets/schema.json`. Throws an
 * `AssetError` when there is no such file or the path is outside `/assets`
 * (`..` included: the host refuses to leave the folder). */
export function readAsset(path) {
  const [directory, relative] = locate(path);
  let file;
  try {
    file = directory.openAt({}, relative, {}, { read: true });
  } catch (error) {
    throw assetError(path, error);
  }
  const chunks = [];
  let length = 0;
  try {
    for (;;) {
      const [bytes, end] = file.read(CHUNK, BigInt(length));
      chunks.push(bytes);
      length += bytes.length;
      if (end || bytes.length === 0) {
        break;
      }
    }
  } catch (error) {
    throw assetError(path, error);
  }
  const all = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.length;
  }
  return all;
}

/** The text of the UTF-8 file at `path`; see `readAsset`. */
export function readTextAsset(path) {
  return decoder.decode(readAsset(path));
}

/** The preopened directory holding `path`, and `path` relative to it. */
function locate(path) {
  // Asked per call, not at the top level: the build's snapshot has no host.
  for (const [directory, name] of getDirectories()) {
    const prefix = name.endsWith("/") ? name : `${name}/`;
    if (path.startsWith(prefix) && path.length > prefix.length) {
      return [directory, path.slice(prefix.length)];
    }
  }
  throw new AssetError(path, "no-entry");
}

function assetError(path, error) {
  // The bindings throw a WASI `error-code` as an error whose `payload` is the code.
  if (typeof error?.payload === "string") {
    return new AssetError(path, error.payload);
  }
  return error;
}
