// How long a sync answer carrying the other pods' frequency counts holds a VM (not part of `npm run
// bench`): a standalone bidder (two inline VMs, sync every 200 ms) whose fleet store hands 2,048
// counts in every answer (the host's largest), each delivery of proxy_on_http_call_response timed.
// The filter applies 512 of them in that callback and the rest at its next ticks.
//   node --import tsx bench/fleet-apply-bench.ts
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Callouts } from "../host/src/proxy-wasm/callouts.ts";
import { FIXTURES, startTestBidder } from "../tests/helpers/bidder.ts";
import type { FleetFrequency, FrequencyCount } from "../host/src/control/fleet-frequency.ts";

const times = { small: [] as number[], large: [] as number[] };
// Callouts.deliver is private: timed by wrapping it on the prototype.
type Deliver = (this: unknown, token: number, res: { body?: Uint8Array } | null) => void;
const proto = Callouts.prototype as unknown as { deliver: Deliver };
const orig = proto.deliver;
proto.deliver = function (token, res) {
  const t = performance.now();
  orig.call(this, token, res);
  const ms = performance.now() - t;
  ((res?.body?.length ?? 0) > 50_000 ? times.large : times.small).push(ms);
};
const set = JSON.parse(readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8"));
set.campaigns[0].frequency_cap = { impressions: 2, seconds: 3600 };
const app = await startTestBidder({ vms: 2, campaigns: set, plugin: { sync_period_ms: 200 } });
let seq = 1;
const fleet: FleetFrequency = {
  async exchange() {
    const now = Date.now();
    const counts: FrequencyCount[] = [];
    for (let i = 0; i < 2048; i++) counts.push({ key: (seq++ * 0x9e3779b1).toString(16).padStart(16, "0").slice(-16), atMs: now, windowS: 3600 });
    return { accepted: true, counts, cursor: `${seq}-0` };
  },
  async close() {},
};
app.sync.frequency = fleet;
await new Promise((r) => setTimeout(r, 8000));
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)] ?? NaN;
console.log(`sync answers with 2,048 counts: n ${times.large.length}, median ${med(times.large).toFixed(2)} ms, max ${Math.max(...times.large).toFixed(2)} ms; other callout answers median ${med(times.small).toFixed(3)} ms`);
console.log(`counts applied: ${app.pool.metrics.find("nexus_frequency_fleet_applied_total")?.value}`);
await app.close();
