#!/usr/bin/env node
// Makes a fresh clone runnable: installs the locked dependencies when they are
// missing or stale, then builds the .wasm and the host bundle when the sources
// are newer than the outputs (or always, with --build). Used by `npm start`,
// `npm test` and `npm run bench` so each README command does its own setup.
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync, statSync, readdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { installedAsLocked } from "./installed-as-locked.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
// The npm that runs this script (npm sets npm_execpath). Not a bare "npm": inside
// an npm script, node_modules/.bin comes first in PATH, and a dependency may ship
// its own old npm there.
const npmCli = process.env.npm_execpath;
const run = (args) =>
  npmCli && npmCli.endsWith(".js")
    ? execFileSync(process.execPath, [npmCli, ...args], { cwd: root, stdio: "inherit" })
    : execFileSync(process.platform === "win32" ? "npm.cmd" : "npm", args, { cwd: root, stdio: "inherit", env: { ...process.env, PATH: withoutLocalBin(process.env.PATH ?? "") } });

function withoutLocalBin(path) {
  return path.split(":").filter((p) => !p.endsWith("node_modules/.bin")).join(":");
}

function lockHash() {
  return createHash("sha256").update(readFileSync(join(root, "package-lock.json"))).digest("hex");
}

const stamp = join(root, "node_modules", ".nexus-lock-sha256");
const wanted = lockHash();
if (!existsSync(stamp) || readFileSync(stamp, "utf8") !== wanted) {
  // Installed by a hand-run `npm ci`: trust it (no second install of ~15 s that needs the registry).
  if (!installedAsLocked(root)) {
    console.error("[setup] installing locked dependencies (npm ci)");
    run(["ci", "--no-audit", "--no-fund"]);
  }
  writeFileSync(stamp, wanted);
}

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

const outputs = ["build/nexus_filter.wasm", "build/nexus_core.wasm", "dist/nexus-rtb.mjs"].map((p) => join(root, p));
const sourcesNewest = Math.max(
  newestMtime(join(root, "assembly")),
  newestMtime(join(root, "host")),
  statSync(join(root, "asconfig.json")).mtimeMs,
  statSync(join(root, "package-lock.json")).mtimeMs,
);
const stale = outputs.some((p) => !existsSync(p) || statSync(p).mtimeMs < sourcesNewest);
if (process.argv.includes("--build") || stale) {
  console.error("[setup] building filter .wasm and host bundle");
  execFileSync(process.execPath, [join(root, "scripts", "build.mjs")], { cwd: root, stdio: "inherit" });
}
