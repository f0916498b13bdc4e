// What a cross-pod replay claim adds to a bid request: one pod with claims on and
// one with claims off (same filter, same local guard, same Redis for budgets),
// N sequential bid requests each straight into the VM pool (no bid server, so
// the difference is the claim: proxy_http_call → host over loopback HTTP →
// Redis SET NX PX → answer on the root context → body parsed again).
// Not a test (the suite does not run it): a measurement.
//
//   node --import tsx tests/hardening/replay-claim-latency.ts [N=3000]
import { Redis } from "ioredis";
import { uniquePrefix } from "../helpers/redis-server.ts";
import { SHARED_REDIS_URL, deleteTestKeys, startBarePod, uniqueRequest, type BarePod } from "./replay-pods.ts";

const N = Number(process.argv[2] ?? 3000);
const WARM = 500;
const enc = new TextEncoder();

async function run(pod: BarePod, tag: string, n: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const body = enc.encode(uniqueRequest(tag).body);
    const t0 = process.hrtime.bigint();
    const o = await pod.pool.handleHttpRequest({
      headers: [[":method", "POST"], [":path", "/openrtb2/bid"], [":authority", "bidder.test"], [":scheme", "http"], ["content-type", "application/json"]],
      body: [body],
    });
    times.push(Number(process.hrtime.bigint() - t0) / 1000);
    if (o.kind !== "local" || (o.status !== 200 && o.status !== 204)) throw new Error(`${tag}: unexpected ${JSON.stringify(o).slice(0, 200)}`);
  }
  return times;
}

const q = (s: number[], p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
function summary(name: string, t: number[]): { mean: number; p50: number } {
  const s = [...t].sort((a, b) => a - b);
  const mean = t.reduce((a, b) => a + b, 0) / t.length;
  console.log(`${name.padEnd(11)} n=${t.length}  mean ${mean.toFixed(0)} µs  p50 ${q(s, 0.5).toFixed(0)}  p90 ${q(s, 0.9).toFixed(0)}  p99 ${q(s, 0.99).toFixed(0)}  max ${s[s.length - 1]!.toFixed(0)}`);
  return { mean, p50: q(s, 0.5) };
}

const prefix = uniquePrefix("claim-latency");
const redis = new Redis(SHARED_REDIS_URL);
const common = { redisUrl: SHARED_REDIS_URL, keyPrefix: prefix, requestTimeoutMs: 15_000 };
const on = await startBarePod("latency-on", { ...common, plugin: { replay_claim: true } });
const off = await startBarePod("latency-off", { ...common, plugin: { replay_claim: false } });
try {
  await run(on, "warm-on", WARM);
  await run(off, "warm-off", WARM);
  // Interleaved halves, so that machine load drifts affect both alike.
  const tOn: number[] = [];
  const tOff: number[] = [];
  for (let k = 0; k < 4; k++) {
    tOff.push(...(await run(off, "off", N / 4)));
    tOn.push(...(await run(on, "on", N / 4)));
  }
  const a = summary("claims off", tOff);
  const b = summary("claims on", tOn);
  console.log(`added by the claim: mean ${(b.mean - a.mean).toFixed(0)} µs, p50 ${(b.p50 - a.p50).toFixed(0)} µs`);
  const h = on.pool.metrics.find("nexus_replay_claim_latency_us") as unknown as { count?: bigint; sum?: bigint } | undefined;
  if (h?.count) console.log(`filter's nexus_replay_claim_latency_us: mean ${(Number(h.sum) / Number(h.count)).toFixed(0)} µs over ${h.count} claims`);
  // The histogram's _sum and _count series (prom-client names them in metricName).
  const host = (await on.cp.metrics.registry.getSingleMetric("nexus_host_replay_claim_seconds")!.get()).values as Array<{ metricName?: string; value: number }>;
  const sum = host.find((v) => v.metricName === "nexus_host_replay_claim_seconds_sum")?.value ?? 0;
  const count = host.find((v) => v.metricName === "nexus_host_replay_claim_seconds_count")?.value ?? 0;
  if (count) console.log(`host's Redis SET NX PX (nexus_host_replay_claim_seconds): mean ${((sum / count) * 1e6).toFixed(0)} µs over ${count} claims`);
  console.log(`claim failures: ${on.pool.metrics.find("nexus_replay_claim_failures_total")?.value ?? 0n}`);
} finally {
  await on.close();
  await off.close();
  await deleteTestKeys(redis, prefix);
  redis.disconnect();
}
