#!/usr/bin/env node
// `npm start`: makes a fresh clone runnable (ensure.mjs), then runs the bidder in this very
// process, and stops it gracefully when whoever started it goes away.
//
// npm runs a script through `sh -c`, and on SIGTERM it signals that shell, which dies without
// passing the signal on: the server ran on without a parent, still holding its ports, never
// drained (a supervisor that signals only the process it started, e.g. a container's PID 1 or
// systemd's KillMode=process, saw npm exit and left the server behind). So the server here
// watches its parent: when it changes (the shell is gone), it sends itself SIGTERM, which drains
// and stops it as a direct SIGTERM does. Ctrl-C in a terminal reaches the server directly.
// Arguments after `npm start --` go to `serve`.
import { execFileSync } from "node:child_process";
import { join, dirname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
try {
  execFileSync(process.execPath, [join(root, "scripts", "ensure.mjs")], { cwd: root, stdio: "inherit" });
} catch {
  process.exit(1); // ensure.mjs said why
}
const parent = process.ppid;
const watch = setInterval(() => {
  if (process.ppid === parent) return;
  clearInterval(watch);
  process.kill(process.pid, "SIGTERM");
}, 250);
watch.unref();
const server = join(root, "dist", "nexus-rtb.mjs");
// The bundle's CLI reads its command from process.argv, as when run as `node dist/nexus-rtb.mjs serve`.
process.argv = [process.argv[0], server, "serve", ...process.argv.slice(2)];
await import(pathToFileURL(server).href);
