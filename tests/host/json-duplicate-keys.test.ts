// Files an operator writes are refused when an object repeats a key: JSON.parse would keep the
// last one without a word ("active": false, ... "active": true bids). Found by an audit: a
// campaigns file with a repeated "active" passed check-campaigns and was bid on.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { firstDuplicateKey } from "../../host/src/json-duplicate-keys.ts";
import { CampaignCatalog } from "../../host/src/control/campaigns.ts";
import { loadConfig } from "../../host/src/config.ts";
import { FIXTURES } from "../helpers/bidder.ts";

const tmp = mkdtempSync(join(tmpdir(), "nexus-dupkeys-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe("firstDuplicateKey", () => {
  it("names the first repeated key by its path", () => {
    assert.equal(firstDuplicateKey('{"a": 1, "a": 2}'), "a");
    assert.equal(firstDuplicateKey('{"version": 1, "campaigns": [{"id": "x", "active": false, "active": true}]}'), "campaigns[0].active");
    assert.equal(firstDuplicateKey('{"c": [1, [2, 3], {"k": 1}, {"k": 1, "t": {"u": 1, "u": 2}}]}'), "c[3].t.u");
    assert.equal(firstDuplicateKey('{"a\\u0062": 1, "ab": 2}'), "ab", "keys compared as decoded");
  });

  it("finds none in documents without, whatever their strings hold", () => {
    for (const text of ['{}', '[]', '[{}, "x"]', '{"a": [{}, "y", [], {"b": 1}, "z"], "c": {}}', '[[], "x", {}, 1]', '{"a": {"a": {"a": 1}}}', '[{"a": 1}, {"a": 2}]', '{"s": "\\"a\\": 1, \\"a\\": 2", "a": "{\\"a\\""}', '{"x": ",", "y": "[", "z": "}"}', '"a"', '{"a": [], "b": [{}], "c": {"d": [1, 2, {"d": 3}]}}']) {
      JSON.parse(text);
      assert.equal(firstDuplicateKey(text), undefined, text);
    }
  });
});

describe("files refused for a repeated key", () => {
  it("a campaigns file: CAMPAIGNS_INVALID naming the key (the filter's parser never saw it)", () => {
    const text = readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8");
    const set = JSON.parse(text);
    const file = join(tmp, "campaigns.json");
    writeFileSync(file, JSON.stringify(set));
    assert.doesNotThrow(() => CampaignCatalog.fromFile(file));
    const first = JSON.stringify(set.campaigns[0]);
    writeFileSync(file, JSON.stringify(set).replace(first, first.replace(/^\{/, '{"active": false, ')));
    assert.throws(() => CampaignCatalog.fromFile(file), (err: Error & { code?: string }) => err.code === "CAMPAIGNS_INVALID" && /campaigns\[0\]\.active: duplicate key/.test(err.message));
    writeFileSync(file, JSON.stringify(set).replace(/^\{/, '{"version": 99, '));
    assert.throws(() => CampaignCatalog.fromFile(file), /version: duplicate key/);
  });

  it("a host configuration file", () => {
    const file = join(tmp, "host.json");
    writeFileSync(file, '{"model": {"allowUnsigned": false}, "model": {"allowUnsigned": true}}');
    assert.throws(() => loadConfig({ file, env: {} }), /model: repeated key/);
    writeFileSync(file, '{"model": {"allowUnsigned": false}}');
    assert.equal(loadConfig({ file, env: {} }).model.allowUnsigned, false);
  });
});
