#!/usr/bin/env node
// Runs every tests/**/*.test.ts with node:test (Node 20 has no glob for --test).
// Test files run one at a time: several start servers and share the real Redis.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";

function find(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) { if (e.name !== "fixtures") out.push(...find(p)); }
    else if (e.name.endsWith(".test.ts")) out.push(p);
  }
  return out;
}
const filter = process.argv.slice(2);
const files = find("tests").filter((f) => filter.length === 0 || filter.some((s) => f.includes(s))).sort();
if (files.length === 0) { console.error("no test files matched"); process.exit(1); }
// A file that hangs (a server never closed, a promise never settled) fails after 10 minutes
// instead of holding CI to its own 90-minute limit: Node 20 applies --test-timeout to each test
// file (it is cancelled, and the run exits 1). All files together take about 12 minutes.
const FILE_TIMEOUT_MS = 10 * 60_000;
const r = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-concurrency=1", `--test-timeout=${FILE_TIMEOUT_MS}`, ...files.map((f) => relative(".", f))], { stdio: "inherit" });
process.exit(r.status ?? 1);
