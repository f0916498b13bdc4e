// A bidder that cannot become ready says why: /readyz names the model's error code, and the
// NOT_READY error (serve's one stderr line) carries the error in full, instead of only "model
// failed" with the reason left in the JSON log.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { request } from "undici";
import { testBidderConfig } from "../helpers/bidder.ts";
import { startStandalone } from "../../host/src/standalone.ts";
import { silentLogger } from "../../host/src/log.ts";

describe("not ready: the reason", () => {
  it("a model signed by another key: /readyz says SIGNATURE_INVALID, ready() throws NOT_READY with the model's error", async () => {
    const { cfg, dir } = testBidderConfig({ vms: 1 });
    // Another key pair's public key: the test model's signature does not verify.
    const other = testBidderConfig({ vms: 1 });
    rmSync(other.dir, { recursive: true, force: true });
    cfg.model.publicKey = other.cfg.model.publicKey;
    const app = await startStandalone(cfg, silentLogger());
    try {
      const r = await request(`${app.controlUrl}/readyz`);
      const text = await r.body.text();
      assert.equal(r.statusCode, 503);
      assert.match(text, /model failed \(SIGNATURE_INVALID\)/);
      await assert.rejects(app.ready(500), (e: Error & { code?: string }) => {
        assert.equal(e.code, "NOT_READY");
        assert.match(e.message, /; model: SIGNATURE_INVALID: [^]*signature/i);
        assert.doesNotMatch(e.message, /SIGNATURE_INVALID: SIGNATURE_INVALID/, "the code once");
        return true;
      });
    } finally {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
