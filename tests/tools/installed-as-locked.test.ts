// scripts/ensure.mjs trusts a node_modules that a hand-run `npm ci` installed (npm's record of it,
// node_modules/.package-lock.json, matches package-lock.json) instead of installing it again.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
// @ts-expect-error: a plain .mjs script without types
import { installedAsLocked } from "../../scripts/installed-as-locked.mjs";
import { ROOT } from "./helpers.ts";

const tmp = mkdtempSync(join(tmpdir(), "nexus-lock-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const LOCK = {
  packages: {
    "": { name: "x" },
    "node_modules/a": { version: "1.0.0", integrity: "sha512-a" },
    "node_modules/b": { version: "2.0.0", integrity: "sha512-b", dev: true },
    "node_modules/@esbuild/other-os": { version: "0.1.0", integrity: "sha512-o", optional: true },
  },
};

/** A package root with LOCK and the given hidden lockfile packages (undefined: none). */
function root(installed: Record<string, unknown> | undefined): string {
  const dir = mkdtempSync(join(tmp, "r-"));
  writeFileSync(join(dir, "package-lock.json"), JSON.stringify(LOCK));
  if (installed !== undefined) {
    mkdirSync(join(dir, "node_modules"));
    for (const path of Object.keys(installed)) mkdirSync(join(dir, path), { recursive: true });
    writeFileSync(join(dir, "node_modules", ".package-lock.json"), JSON.stringify({ packages: installed }));
  }
  return dir;
}

const { "": _root, "node_modules/@esbuild/other-os": _optional, ...required } = LOCK.packages;

describe("installedAsLocked", () => {
  it("the locked packages at their versions, an optional one absent: installed as locked", () => {
    assert.equal(installedAsLocked(root(required)), true);
    assert.equal(installedAsLocked(root({ ...required, "node_modules/@esbuild/other-os": LOCK.packages["node_modules/@esbuild/other-os"] })), true);
  });

  it("anything else is not: no record, a missing or other version, an extra package, a dev dependency left out", () => {
    assert.equal(installedAsLocked(root(undefined)), false);
    assert.equal(installedAsLocked(root({ ...required, "node_modules/a": { version: "1.0.1", integrity: "sha512-a" } })), false);
    assert.equal(installedAsLocked(root({ ...required, "node_modules/a": { version: "1.0.0", integrity: "sha512-other" } })), false);
    assert.equal(installedAsLocked(root({ ...required, "node_modules/c": { version: "1.0.0" } })), false);
    const { "node_modules/b": _dev, ...withoutDev } = required;
    assert.equal(installedAsLocked(root(withoutDev)), false, "npm ci --omit=dev");
    const broken = root(required);
    writeFileSync(join(broken, "node_modules", ".package-lock.json"), "{");
    assert.equal(installedAsLocked(broken), false);
    // As npm: a package folder changed after the record (deleted or edited by hand) voids it.
    const edited = root(required);
    const later = new Date(Date.now() + 60_000);
    utimesSync(join(edited, "node_modules/a"), later, later);
    assert.equal(installedAsLocked(edited), false, "edited after the record");
    const deleted = root(required);
    rmSync(join(deleted, "node_modules/a"), { recursive: true });
    assert.equal(installedAsLocked(deleted), false, "deleted after the record");
  });

  it("this checkout's node_modules, installed by npm ci, is as locked", () => {
    assert.ok(readFileSync(join(ROOT, "node_modules", ".package-lock.json")).length > 0);
    assert.equal(installedAsLocked(ROOT), true);
  });
});
