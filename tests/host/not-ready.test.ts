// A bidder that cannot become ready says why: /readyz names the model's error code, and the
// NOT_READY error (serve's one stderr line) carries the error in full, instead of only "model
// failed" with the reason left in the JSON log.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { request } from "undici";
import { spawn } from "node:child_process";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { README_REQUEST, testBidderConfig } from "../helpers/bidder.ts";
import { ROOT } from "../tools/helpers.ts";
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

describe("not ready while starting", () => {
  it("serve (standalone): /readyz is not 200 before the bid port listens (the control port listens first)", async () => {
    const free = () => new Promise<number>((r) => { const s = createServer(); s.listen(0, "127.0.0.1", () => { const p = (s.address() as AddressInfo).port; s.close(() => r(p)); }); });
    const [bidPort, controlPort] = [await free(), await free()];
    const child = spawn(process.execPath, [join(ROOT, "dist/nexus-rtb.mjs"), "serve"], {
      cwd: ROOT, env: { ...process.env, NEXUS_MODE: "standalone", NEXUS_BID_PORT: String(bidPort), NEXUS_CONTROL_PORT: String(controlPort), NEXUS_LOG_LEVEL: "fatal" }, stdio: "ignore",
    });
    const exited = new Promise((r) => child.once("exit", r));
    try {
      // Every 2 ms from the start: the first 200 must come once bids are answered.
      const deadline = Date.now() + 30_000;
      let status = 0;
      const starting: string[] = [];
      while (status !== 200) {
        assert.ok(Date.now() < deadline && child.exitCode === null, "serve became ready");
        const r = await request(`http://127.0.0.1:${controlPort}/readyz`).catch(() => undefined);
        status = r?.statusCode ?? 0;
        const text = r ? await r.body.text() : "";
        if (status === 503) starting.push(text);
        else await new Promise((res) => setTimeout(res, 2));
      }
      const bid = await request(`http://127.0.0.1:${bidPort}/openrtb2/bid`, { method: "POST", headers: { "content-type": "application/json" }, body: README_REQUEST });
      // Answered by a VM with the model (the demo model may not clear the README request's floor).
      const reason = String(bid.headers["x-nexus-nobid-reason"] ?? "");
      assert.ok(bid.statusCode === 200 || (bid.statusCode === 204 && reason !== "no_model"), `${bid.statusCode} ${reason} ${await bid.body.text()}`);
      assert.ok(starting.some((t) => /starting: the filter VMs/.test(t)), "/readyz said why while the VMs started");
    } finally {
      child.kill("SIGTERM");
      await exited;
    }
  });
});

describe("not ready until the replay claim store was reached", () => {
  it("a Redis that never answers: /readyz 503 names the claim store (a claim before it is up would fail open, unchecked) and the frequency counts not read", async () => {
    // A port that accepts TCP and never speaks Redis.
    const mute = createServer(() => {});
    await new Promise<void>((r) => mute.listen(0, "127.0.0.1", () => r()));
    const { cfg, dir } = testBidderConfig({ vms: 1 });
    cfg.budget.source = "redis";
    cfg.budget.redisUrl = `redis://127.0.0.1:${(mute.address() as AddressInfo).port}`;
    const app = await startStandalone(cfg, silentLogger());
    try {
      await new Promise((r) => setTimeout(r, 1000)); // the model and the VMs are up by now
      const r = await request(`${app.controlUrl}/readyz`);
      assert.equal(r.statusCode, 503);
      // Nor has the stream of the other pods' frequency counts been read.
      assert.deepEqual((await r.body.json() as { reasons: string[] }).reasons, ["replay claims: Redis not reached yet", "frequency: catching up with the other pods' counted wins"]);
    } finally {
      await app.close();
      mute.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
