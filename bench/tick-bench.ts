// How long the filter's periodic work (proxy_on_tick: leader sweep of the reservation ring,
// pacing, campaign refresh) holds a VM's thread while bids flow, next to the bids' own latency
// through the filter path. Under Envoy a tick runs on a worker thread between that worker's
// requests, so its duration is latency for whatever request arrives meanwhile.
//
//   node --import tsx bench/tick-bench.ts [--seconds 15] [--slots 160000]
import { parseArgs } from "node:util";
import { loadBenchCorpus, stampId } from "./corpus.ts";
import { HEADERS } from "./filter-bench.ts";
import { testBidderConfig } from "../tests/helpers/bidder.ts";
import { startStandalone } from "../host/src/standalone.ts";
import { silentLogger } from "../host/src/log.ts";
import { ProxyWasmVm } from "../host/src/proxy-wasm/vm.ts";

const { values } = parseArgs({ options: { seconds: { type: "string", default: "15" }, slots: { type: "string", default: "160000" } } });
const ticks: number[] = [];
const tick = ProxyWasmVm.prototype.tick;
ProxyWasmVm.prototype.tick = function (this: ProxyWasmVm): void {
  const t0 = performance.now();
  tick.call(this);
  ticks.push(performance.now() - t0);
};

const corpus = await loadBenchCorpus();
// Production tick and sync periods (the test helper's are shorter), the bench's ring size.
const plugin = { replay_ttl_ms: 60_000, tick_ms: 200, sync_period_ms: 1000, reservation_slots: Number(values.slots) };
const { cfg } = testBidderConfig({ vms: 1, vmMode: "inline", plugin, budget: { pacingSeconds: 1 } });
const app = await startStandalone(cfg, silentLogger());
await app.ready(20_000);
const requests: number[] = [];
let n = 0;
const end = Date.now() + Number(values.seconds) * 1000;
while (Date.now() < end) {
  // Bursts of 20, then a timer turn so the tick interval can fire between them.
  for (let k = 0; k < 20; k++) {
    const i = n % corpus.bodies.length;
    stampId(corpus.bodies[i]!, corpus.idDigitsAt[i]!, n++);
    const t0 = performance.now();
    await app.pool.handleHttpRequest({ headers: HEADERS, body: [corpus.bodies[i]!] });
    requests.push(performance.now() - t0);
  }
  await new Promise((r) => setTimeout(r, 1));
}
await app.close();

const sorted = (xs: number[]) => Float64Array.from(xs).sort();
const at = (xs: Float64Array, q: number) => xs[Math.min(xs.length - 1, Math.floor(xs.length * q))]!.toFixed(3);
const t = sorted(ticks);
const r = sorted(requests);
console.log(`requests ${n} in ${values.seconds} s; ticks ${t.length}: p50 ${at(t, 0.5)} p90 ${at(t, 0.9)} p99 ${at(t, 0.99)} max ${at(t, 1)} ms`);
console.log(`filter path per request: p50 ${at(r, 0.5)} p99 ${at(r, 0.99)} max ${at(r, 1)} ms`);
