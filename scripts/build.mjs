#!/usr/bin/env node
// Builds the filter (.wasm and its allocation-tracing twin), the core for the
// Node tools, and the host bundle. Plain node: npm scripts would resolve "npm"
// to an old copy a dependency puts in node_modules/.bin.
import { execFileSync } from "node:child_process";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const asc = join(root, "node_modules", "assemblyscript", "bin", "asc.js");
const run = (args) => execFileSync(process.execPath, args, { cwd: root, stdio: "inherit" });

run([asc, "assembly/filter/index.ts", "--target", "filter"]);
run([asc, "assembly/filter/index.ts", "--target", "filter-rtrace"]);
run([asc, "assembly/tools/index.ts", "--target", "tools"]);
run([join(root, "scripts", "build-host.mjs")]);
