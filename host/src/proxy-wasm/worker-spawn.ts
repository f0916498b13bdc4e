// Starting a worker thread from a .ts entry (tests, `node --import tsx`) or a bundled .mjs entry.
//
// Under Node 20, `new Worker(tsFile, { execArgv: ["--import", "tsx"] })` fails with
// ERR_UNKNOWN_FILE_EXTENSION (the loader hooks are not applied to the worker's entry), so for a .ts
// entry the worker runs a tiny bootstrap that registers tsx's ESM hooks, then imports the entry.

import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker, type WorkerOptions } from "node:worker_threads";

function tsxApiUrl(): string {
  try {
    return import.meta.resolve("tsx/esm/api");
  } catch {
    // Resolve with the "require" condition and point at the ESM build next to it.
    return pathToFileURL(createRequire(import.meta.url).resolve("tsx/esm/api").replace(/\.cjs$/, ".mjs")).href;
  }
}

export function spawnWorker(entry: URL | string, options: WorkerOptions = {}): Worker {
  const href = entry instanceof URL ? entry.href : entry.startsWith("file:") ? entry : pathToFileURL(entry).href;
  if (!href.endsWith(".ts")) return new Worker(new URL(href), options);
  const code =
    `import(${JSON.stringify(tsxApiUrl())})` +
    `.then((m) => { m.register(); return import(${JSON.stringify(href)}); })` +
    `.catch((e) => { setImmediate(() => { throw e; }); });`;
  return new Worker(code, { ...options, eval: true });
}
