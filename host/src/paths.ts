// Locations inside the installed package (the repository root when run from a clone).
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { existsSync } from "node:fs";

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, "asconfig.json"))) return dir;
    dir = dirname(dir);
  }
  return process.cwd();
}

export const PACKAGE_ROOT = findRoot();
export const DEFAULT_WASM = join(PACKAGE_ROOT, "build", "nexus_filter.wasm");
export const DEMO_DIR = join(PACKAGE_ROOT, "models", "demo");
export const WORKER_SCRIPT = join(PACKAGE_ROOT, "dist", "vm-worker.mjs");
