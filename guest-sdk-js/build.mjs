#!/usr/bin/env node
// Builds connector code written in JavaScript into a WebAssembly component
// that implements the `connector` world:
//
//   node build.mjs --guest <folder with index.js> --wit <folder with connector.wit> --out <file.wasm>
//
// It generates an entry module exporting the contract's `handler`, bundles
// it with the author's modules and the SDK (`src/`, beside this file) into
// one module with rolldown, and hands that to componentize-js, which embeds
// it in the StarlingMonkey engine and snapshots it after its top level ran.
// Exit codes: 0 built, 1 refused or failed (one line on stderr), 2 bad arguments.

import { existsSync, realpathSync, statSync } from "node:fs";
import { cp, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import { componentize } from "@bytecodealliance/componentize-js";
import { rolldown } from "rolldown";

const USAGE = "usage: node build.mjs --guest <folder> --wit <folder> --out <file.wasm>";

/** The platform's limit on a connector's script, applied to the author's source. */
const SOURCE_LIMIT = 1024 * 1024;

/** The SDK, beside this file: the module code imports as "sluice", and the
 * glue the entry module uses. Real paths, because the bundler names modules
 * by their real path. */
const SDK_DIR = realpathSync(fileURLToPath(new URL("./src/", import.meta.url)));
const SDK_MODULE = join(SDK_DIR, "index.js");
const SDK_EXPORT = join(SDK_DIR, "export.js");
/** The WASI filesystem subset the SDK reads assets with. */
const ASSETS_WIT = join(SDK_DIR, "wit", "assets.wit");

/** The engine features connector code has no use for: the contract is its
 * only way out, so no `fetch` and no stdio (`console` goes to the call's
 * log instead, see src/host.js). `clocks` stays because `Date` needs it:
 * without it every call sees the time of the build, and requests are signed
 * with the date. `random` stays because without it `Math.random()` and
 * `crypto.getRandomValues()` give every call the same numbers (each call
 * starts from the same snapshot). */
const DISABLED_FEATURES = ["http", "fetch-event", "stdio"];

const HOOKS = ["onRequest", "onResponse"];

/** The generated entry module's id; the leading NUL keeps other plugins off it. */
const ENTRY_ID = "\0sluice-entry";

/** A refusal or failure, told to the author in one line. */
class BuildError extends Error {}

try {
  const options = parseOptions();
  const started = performance.now();
  const size = await build(options);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`built ${options.out} (${(size / 1024 / 1024).toFixed(1)} MiB) in ${seconds} s`);
} catch (error) {
  if (error instanceof BuildError) {
    console.error(`error: ${error.message}`);
    process.exit(1);
  }
  throw error;
}

function parseOptions() {
  let values;
  try {
    ({ values } = parseArgs({
      options: { guest: { type: "string" }, wit: { type: "string" }, out: { type: "string" } },
      strict: true,
    }));
  } catch (error) {
    usage(error.message);
  }
  for (const name of ["guest", "wit", "out"]) {
    if (!values[name]) {
      usage(`--${name} is required`);
    }
  }
  return { guest: resolve(values.guest), wit: resolve(values.wit), out: resolve(values.out) };
}

function usage(problem) {
  console.error(`error: ${problem}\n${USAGE}`);
  process.exit(2);
}

/** Builds the component; returns its size in bytes. */
async function build({ guest, wit, out }) {
  if (!isDirectory(guest)) {
    throw new BuildError(`the guest folder ${guest} does not exist`);
  }
  guest = realpathSync(guest);
  const index = join(guest, "index.js");
  if (!existsSync(index)) {
    throw new BuildError(`the guest folder ${guest} has no index.js`);
  }
  if (!isDirectory(wit)) {
    throw new BuildError(`the WIT folder ${wit} does not exist`);
  }
  const size = await sourceSize(guest);
  if (size > SOURCE_LIMIT) {
    throw new BuildError(`the guest's source is ${size} bytes of .js, .mjs and .json files; the limit is ${SOURCE_LIMIT} (1 MiB)`);
  }

  const work = await mkdtemp(join(tmpdir(), "sluice-js-"));
  try {
    const source = join(work, "guest.js");
    await writeFile(source, await bundle(guest, index));
    const component = await componentizeIn(work, source, await guestWorld(work, wit));
    await writeFile(out, component);
    return component.length;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The sum of the sizes of the folder's .js, .mjs and .json files, at any depth. */
async function sourceSize(folder) {
  let total = 0;
  for (const entry of await readdir(folder, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && /\.(m?js|json)$/.test(entry.name)) {
      total += (await stat(join(entry.parentPath ?? entry.path, entry.name))).size;
    }
  }
  return total;
}

/** One ES module: the generated entry, the author's modules and the SDK. */
async function bundle(guest, index) {
  let exported = [];
  const plugin = {
    name: "sluice",
    resolveId(id, importer) {
      if (id === ENTRY_ID) {
        return id;
      }
      if (id.startsWith("sluice:connector/") || id.startsWith("wasi:filesystem/")) {
        return { id, external: true };
      }
      if (id === "sluice") {
        return SDK_MODULE;
      }
      if (importer === undefined || importer === ENTRY_ID || isWithin(importer, SDK_DIR)) {
        return null;
      }
      const name = relative(guest, importer);
      if (!id.startsWith("./") && !id.startsWith("../")) {
        throw new BuildError(`${name} imports "${id}": code can import "sluice" and its own folder's modules only`);
      }
      if (!isWithin(resolve(dirname(importer), id), guest)) {
        throw new BuildError(`${name} imports "${id}", which is outside the guest folder`);
      }
      return null;
    },
    load(id) {
      if (id === ENTRY_ID) {
        return [
          `import * as code from ${JSON.stringify(index)};`,
          `import { exportHandler } from ${JSON.stringify(SDK_EXPORT)};`,
          `export const handler = exportHandler(code);`,
        ].join("\n");
      }
      return null;
    },
    buildEnd(error) {
      if (!error) {
        exported = this.getModuleInfo(index)?.exports ?? [];
      }
    },
  };
  let output;
  try {
    const bundler = await rolldown({ input: ENTRY_ID, plugins: [plugin], platform: "neutral", logLevel: "silent" });
    ({ output } = await bundler.generate({ format: "esm" }));
    await bundler.close();
  } catch (error) {
    throw bundleError(error, guest);
  }
  checkExports(exported);
  return output[0].code;
}

/** Refuses a module that is not exactly one of the two ways of writing code. */
function checkExports(names) {
  const hooks = HOOKS.filter((hook) => names.includes(hook));
  if (names.includes("handle") && hooks.length > 0) {
    throw new BuildError(`index.js exports both \`handle\` and \`${hooks[0]}\`: export either \`handle\` (a full handler) or the hooks \`onRequest\`/\`onResponse\``);
  }
  if (!names.includes("handle") && hooks.length === 0) {
    throw new BuildError("index.js exports none of `handle`, `onRequest`, `onResponse`: export a full handler or at least one hook");
  }
}

/** The one line to show for a bundling failure: ours as is, rolldown's
 * (a syntax error, a missing module) reduced to its first diagnostic with
 * the file and line relative to the guest folder. */
function bundleError(error, guest) {
  const ours = [error, error?.cause, ...(error?.errors ?? [])].find((e) => e instanceof BuildError);
  if (ours) {
    return ours;
  }
  const text = String(error?.message ?? error).replace(/\x1b\[[0-9;]*m/g, "");
  const lines = text.split("\n").map((line) => line.trim()).filter(Boolean);
  const problem = lines.find((line) => /^\[[A-Z_]+\]/.test(line)) ?? lines[0] ?? "the bundler failed";
  const location = lines.find((line) => /^╭─\[ /.test(line))?.replace(/^╭─\[ (.*) \]$/, "$1");
  const where = location ? relative(guest, location.replace(/:(\d+):(\d+)$/, "")) + location.match(/(:\d+:\d+)$/)?.[1] : null;
  return new BuildError(where ? `${where}: ${problem}` : problem);
}

/** A WIT folder whose world `connector` is the contract's world plus the
 * assets folder (`wasi:filesystem/preopens`), the contract's folder and the
 * SDK's filesystem subset being its dependencies. Returns its path. */
async function guestWorld(work, wit) {
  const folder = join(work, "wit");
  const contract = join(folder, "deps", "contract");
  await mkdir(contract, { recursive: true });
  let name = null;
  for (const entry of await readdir(wit, { withFileTypes: true })) {
    const from = join(wit, entry.name);
    if (entry.isDirectory() && entry.name === "deps") {
      await cp(from, join(folder, "deps"), { recursive: true });
    } else if (entry.isFile() && entry.name.endsWith(".wit")) {
      const text = await readFile(from, "utf8");
      name ??= text.match(/^\s*package\s+([a-z0-9-]+:[a-z0-9-]+)(@[^;\s]+)?\s*;/m)?.slice(1).join("") ?? null;
      await writeFile(join(contract, entry.name), text);
    }
  }
  if (name === null) {
    throw new BuildError(`the WIT folder ${wit} declares no package`);
  }
  const [pkg, version = ""] = name.split("@");
  await mkdir(join(folder, "deps", "wasi-filesystem"));
  await cp(ASSETS_WIT, join(folder, "deps", "wasi-filesystem", "assets.wit"));
  await writeFile(
    join(folder, "guest.wit"),
    [
      "package sluice:guest-js;",
      "",
      "world connector {",
      `    include ${pkg}/connector${version ? `@${version}` : ""};`,
      "    import wasi:filesystem/preopens@0.2.0;",
      "}",
      "",
    ].join("\n"),
  );
  return folder;
}

/** Runs componentize-js with `work` as the current folder: it maps the
 * current folder into the engine when it snapshots the module, and the
 * bundle is the only file there that it needs. */
async function componentizeIn(work, source, wit) {
  const previous = process.cwd();
  process.chdir(work);
  try {
    const { component } = await componentize({
      sourcePath: source,
      witPath: wit,
      worldName: "connector",
      disableFeatures: DISABLED_FEATURES,
    });
    return component;
  } catch (error) {
    throw new BuildError(`componentize-js failed: ${snapshotProblem(String(error?.message ?? error))}`);
  } finally {
    process.chdir(previous);
  }
}

/** The one line that matters in componentize-js's report of a failed
 * snapshot: what the code's top level threw, or which host function it
 * called (the host is there only during a call). */
function snapshotProblem(text) {
  const thrown = text.match(/Exception while evaluating top-level script\n(?:\S+:\d+:\d+ )?(.*)/);
  if (thrown) {
    return `the code's top level threw ${thrown[1]}`;
  }
  const call = text.match(/unknown imported function: '([^']+)' '([^']+)'/);
  if (call) {
    return `the code's top level called ${call[1]} ${call[2]}, and the host is there only during a call: move it into a function`;
  }
  return text.split("\n").find((line) => line.trim() !== "") ?? "no reason given";
}

function isDirectory(path) {
  return existsSync(path) && statSync(path).isDirectory();
}

function isWithin(path, folder) {
  return path === folder || path.startsWith(folder + sep);
}
