// Load generator for the HTTP benchmark, run as its own process so it does not
// share the event loop with the server under test. Closed loop (--concurrency)
// or open loop at a fixed --rate; prints one JSON line with throughput, latency
// percentiles (ms), statuses and no-bid reasons.
//
// Every request carries a fresh request id (bench/corpus.ts): the bodies file
// holds [text before the 8 id digits, text after] per body, and the digits are
// --id-base + a per-request counter, so no id repeats within or across runs.
import { parseArgs } from "node:util";
import { readFileSync } from "node:fs";
import { Agent, request } from "undici";

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    bodies: { type: "string" }, // JSON file: array of [before, after] (after is null: no id to stamp)
    concurrency: { type: "string", default: "32" },
    rate: { type: "string", default: "0" },
    seconds: { type: "string", default: "5" },
    warmup: { type: "string", default: "1" },
    "id-base": { type: "string", default: "0" },
  },
});
const url = values.url!;
const templates = JSON.parse(readFileSync(values.bodies!, "utf8")) as Array<[string, string | null]>;
const concurrency = Number(values.concurrency);
const rate = Number(values.rate);
const agent = new Agent({ connections: concurrency, pipelining: 1, keepAliveTimeout: 30_000 });
const latencies: number[] = [];
let errors = 0;
let statuses: Record<string, number> = {};
let nobid: Record<string, number> = {};
let recording = false;
/** Answers received, warm-up included (the server's CPU time is divided by it). */
let answered = 0;
let i = 0;
let id = Number(values["id-base"]);

function nextBody(): string {
  const [before, after] = templates[i++ % templates.length]!;
  if (after === null) return before;
  return before + String(id++ % 1e8).padStart(8, "0") + after;
}

async function one(): Promise<void> {
  const body = nextBody();
  const t0 = process.hrtime.bigint();
  try {
    const r = await request(url, { method: "POST", body, headers: { "content-type": "application/json" }, dispatcher: agent });
    await r.body.dump();
    answered++;
    if (recording) {
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      statuses[r.statusCode] = (statuses[r.statusCode] ?? 0) + 1;
      const reason = r.headers["x-nexus-nobid-reason"];
      if (typeof reason === "string") nobid[reason] = (nobid[reason] ?? 0) + 1;
    }
  } catch {
    if (recording) errors++;
  }
}

async function closedLoop(ms: number): Promise<void> {
  const end = Date.now() + ms;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) await one();
    }),
  );
}

async function openLoop(ms: number): Promise<void> {
  const inflight = new Set<Promise<void>>();
  const start = process.hrtime.bigint();
  const total = Math.floor((rate * ms) / 1000);
  for (let k = 0; k < total; k++) {
    const due = start + BigInt(Math.round((k * 1e9) / rate));
    while (process.hrtime.bigint() < due) {
      if (due - process.hrtime.bigint() > 2_000_000n) await new Promise((r) => setTimeout(r, 1));
      else await new Promise((r) => setImmediate(r));
    }
    const p = one().finally(() => inflight.delete(p));
    inflight.add(p);
  }
  await Promise.all(inflight);
}

const run = rate > 0 ? openLoop : closedLoop;
await run(Number(values.warmup) * 1000);
recording = true;
statuses = {};
nobid = {};
const t0 = Date.now();
await run(Number(values.seconds) * 1000);
const elapsed = (Date.now() - t0) / 1000;
latencies.sort((a, b) => a - b);
const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
console.log(JSON.stringify({ requests: latencies.length, rps: latencies.length / elapsed, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: latencies[latencies.length - 1] ?? NaN, errors, statuses, nobid, answered }));
await agent.close();
