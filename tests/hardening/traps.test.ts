// A trap does not take the server down. With the test-only plugin setting
// test_trap_path, a request to that path makes the filter VM trap on purpose:
// the request still gets an answer (503, as Envoy with fail_open: false would
// close the stream), the trap is logged with its callback and context id, the
// VM is recreated (pool.vmRestarts, nexus_host_vm_restarts on /metrics), and
// the server keeps bidding — with one VM and with several, inline and in
// worker threads.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { README_REQUEST, get, post } from "../helpers/bidder.ts";
import { lossAll, reserved, startHardeningBidder, until, type HardeningBidder } from "./helpers.ts";

const TRAP = "/__nexus_test_trap";

function metricValue(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name} ([0-9.e+-]+)$`, "m").exec(text);
  return m ? Number(m[1]) : undefined;
}

for (const setup of [
  { vms: 1, vmMode: "inline" as const },
  { vms: 3, vmMode: "inline" as const },
  { vms: 3, vmMode: "workers" as const },
]) {
  describe(`traps, ${setup.vms} ${setup.vmMode} VM(s)`, () => {
    let app: HardeningBidder;
    before(async () => {
      app = await startHardeningBidder({ ...setup, plugin: { test_trap_path: TRAP } });
    });
    after(async () => {
      await app?.close();
    });

    it("the trapping request gets a 503; the trap is logged with callback and context; the VM is recreated", async () => {
      const restarts = app.pool.vmRestarts;
      const failures = app.bid.vmFailures;
      const r = await post(`${app.bidUrl}${TRAP}`, "{}");
      assert.equal(r.status, 503, r.text);
      assert.deepEqual(r.json(), { error: "filter unavailable" });
      assert.equal(app.bid.vmFailures, failures + 1);
      await until(() => app.pool.vmRestarts === restarts + 1, 10_000, "the VM restart");
      const f = app.pool.failures.at(-1)!;
      assert.equal(f.callback, "proxy_on_request_headers");
      assert.ok(f.contextId >= 2, `a stream context (${f.contextId})`);
      assert.match(f.error, /unreachable/);
      // The host's log has the trap at fatal level, with the callback in the message and the context id.
      await until(() => app.logs.some((l) => typeof l.msg === "string" && l.msg.includes("proxy_on_request_headers failed")), 5000, "the trap log line");
      const line = app.logs.find((l) => typeof l.msg === "string" && l.msg.includes("proxy_on_request_headers failed"))!;
      assert.equal(line.level, 60, "fatal");
      assert.equal(line.source, "filter");
      assert.equal(line.context, f.contextId);
      // /metrics shows the restart.
      const metrics = (await get(`${app.controlUrl}/metrics`)).text;
      assert.equal(metricValue(metrics, "nexus_host_vm_restarts"), app.pool.vmRestarts);
    });

    it("keeps bidding on every VM after traps, and leaks no reservation", async () => {
      const before = reserved(app);
      const restarts = app.pool.vmRestarts;
      // Traps interleaved with bids: each VM traps at least once.
      const answers = [];
      for (let i = 0; i < setup.vms * 2; i++) {
        answers.push(post(`${app.bidUrl}${TRAP}`, "{}"));
        answers.push(post(`${app.bidUrl}/openrtb2/bid`, README_REQUEST));
      }
      const done = await Promise.all(answers);
      for (const a of done) {
        // A recreated VM has no model until its first tick (tick_ms) reads it from shared data: it fails closed.
        const ok = a.status === 200 || a.status === 503 || (a.status === 204 && a.headers["x-nexus-nobid-reason"] === "no_model");
        assert.ok(ok, `${a.status} ${a.text} ${String(a.headers["x-nexus-nobid-reason"])}`);
      }
      await until(() => app.pool.vmRestarts >= restarts + setup.vms * 2, 15_000, "all restarts");
      // Within a few ticks every VM (round-robin) bids again.
      await until(async () => {
        const round = await Promise.all(Array.from({ length: setup.vms }, () => post(`${app.bidUrl}/openrtb2/bid`, README_REQUEST)));
        done.push(...round);
        return round.every((r) => r.status === 200);
      }, 5000, "bids from every VM");
      for (let i = 0; i < setup.vms * 3; i++) {
        const r = await post(`${app.bidUrl}/openrtb2/bid`, README_REQUEST);
        assert.equal(r.status, 200, `${r.status} ${r.text} ${String(r.headers["x-nexus-nobid-reason"])}`);
        done.push(r);
      }
      for (const a of done) if (a.status === 200) await lossAll(app, a.text);
      assert.equal(reserved(app), before, "every reservation was released");
      const metrics = (await get(`${app.controlUrl}/metrics`)).text;
      assert.equal(metricValue(metrics, "nexus_host_vm_restarts"), app.pool.vmRestarts);
      const ready = await get(`${app.controlUrl}/readyz`);
      assert.equal(ready.status, 200, ready.text);
    });
  });
}
