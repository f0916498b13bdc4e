// docs/PLUGIN_CONFIG.md's table gives every plugin field a default. An operator who writes those
// defaults out (a template, an envoy.yaml filled from the table) must get a configuration the
// filter takes: a docs audit found three written-out defaults ("" for sync_token, sync_token_env
// and test_trap_path) refused at the plugin start, which makes Envoy refuse the listener. Checked
// with the filter's own parser (build/nexus_core.wasm), each field alone and all together.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { filterPluginCheck } from "../../../host/src/control/campaign-check.ts";

const DOC = readFileSync(fileURLToPath(new URL("../../../docs/PLUGIN_CONFIG.md", import.meta.url)), "utf8");

/** field → default written as JSON, for the table rows whose default is a value (not prose). */
function documentedDefaults(): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const line of DOC.split("\n")) {
    // `\|` is a pipe inside a cell (`"open"` \| `"closed"`).
    const m = /^\| `([a-z_]+)` \| ([^|]+?) \| ([^|]+?) \|/.exec(line.replaceAll("\\|", "/"));
    if (!m) continue;
    const [, field, type, cell] = m;
    const written = /^`[^`]*`$/.test(cell!) ? cell!.slice(1, -1) : cell!;
    let value: unknown;
    try {
      value = JSON.parse(written);
    } catch {
      // A bare word or path in a string field (`/openrtb2/bid`, `USD`, `nexus`); prose is skipped.
      if (!/^[\w/.-]+$/.test(written)) continue;
      value = written;
    }
    if (/^(string|ISO 4217)/.test(type!.trim()) && typeof value !== "string") value = String(value);
    out.set(field!, value);
  }
  return out;
}

describe("PLUGIN_CONFIG.md: the documented defaults, written out", () => {
  const defaults = documentedDefaults();

  it("reads a default for the fields the table gives one (not prose)", () => {
    for (const f of ["bid_path", "max_body_bytes", "currency", "floor_feature_currency", "sync_token", "sync_token_env", "test_trap_path", "replay_claim_failure", "notice_forward"]) {
      assert.ok(defaults.has(f), `${f} in the table with a value default`);
    }
    assert.ok(defaults.size >= 30, `${defaults.size} fields read`);
  });

  it("each one is taken by the filter's parser, alone and all together", () => {
    for (const [field, value] of defaults) {
      assert.equal(filterPluginCheck(JSON.stringify({ [field]: value })), undefined, `${field}: ${JSON.stringify(value)}`);
    }
    assert.equal(filterPluginCheck(JSON.stringify(Object.fromEntries(defaults))), undefined);
  });

  it("an empty sync_token or sync_token_env is unset: with the other one set, it is not 'both'", () => {
    assert.equal(filterPluginCheck(JSON.stringify({ sync_token: "", sync_token_env: "NEXUS_SYNC_TOKEN" })), undefined);
    assert.equal(filterPluginCheck(JSON.stringify({ sync_token: "a".repeat(16), sync_token_env: "" })), undefined);
    assert.match(filterPluginCheck(JSON.stringify({ sync_token: "short" })) ?? "", /^sync_token: expected 16-512 characters/);
    assert.match(filterPluginCheck(JSON.stringify({ test_trap_path: "trap" })) ?? "", /^test_trap_path: must start with '\/'/);
  });
});
