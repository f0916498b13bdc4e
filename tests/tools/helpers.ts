// Shared bits of the tools tests: fixture paths, the real data (used only when
// ../shared/data is present), one compiled core per test file.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { NexusCore } from "../../host/src/tools/core.ts";

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(here, "..", "..");
export const FIXTURES = join(ROOT, "tests", "fixtures", "tools");
export const SHARED_DATA = join(ROOT, "..", "shared", "data");

export function fixture(name: string): string {
  return join(FIXTURES, name);
}

/** Path of a real data file, or undefined when ../shared/data is not there (tests using it skip). */
export function sharedData(rel: string): string | undefined {
  const p = join(SHARED_DATA, rel);
  return existsSync(p) ? p : undefined;
}

let core: Promise<NexusCore> | undefined;
export function loadCore(): Promise<NexusCore> {
  core ??= NexusCore.load();
  return core;
}

export const enc = new TextEncoder();
