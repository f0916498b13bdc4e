// Pacing simulation: one simulated day of traffic through the real filter
// (.wasm in the standalone host, inline VMs, a simulated clock), shaped by
// the hour-of-day volumes of the iPinYou logs, with a daily budget below
// demand. Wins are decided by a simulated second-price auction; every bid
// gets its win or loss notice. Prints budget utilisation, hard-cap breaches
// and the pacing error: RMS over 15-minute slots of (actual − planned spend)
// / (budget / slots).
import { parseArgs } from "node:util";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PACKAGE_ROOT } from "../host/src/paths.ts";
import { startSimBidder, type SimBidder } from "../tests/helpers/sim-bidder.ts";
import { readLedger } from "../tests/helpers/ledger.ts";
import type { HttpOutcome } from "../host/src/proxy-wasm/types.ts";
import { RedisFleet } from "../tests/helpers/redis-fleet.ts";
import type { SlicePolicy } from "../host/src/control/budget.ts";

export interface PacingSimOptions {
  requestsPerDay: number;
  /** Daily budget as a fraction of what the campaign would spend unpaced. */
  budgetFraction: number;
  seed: number;
  vms: number;
  tickMs: number;
  /** Hour-of-day traffic weights (24); default: the iPinYou 2259 log volumes. */
  hourlyWeights?: number[];
  /** PID gains (plugin configuration "pacing"); default: the filter's defaults. */
  gains?: Record<string, number>;
  /**
   * Pods (default 1): each its own control plane and filter (own shared data), leasing from one
   * Redis budget (`redisUrl`, under a fresh key prefix deleted afterwards); requests go round-robin.
   */
  pods?: number;
  redisUrl?: string;
  /** The campaign's `targeting.hours` (dayparting on the budget's clock, UTC here); default: every hour. */
  hours?: number[];
  /** The Redis lease policy (with `redisUrl`, also for one pod): default the RedisFleet's, whose bucket never throttles. */
  redisPolicy?: SlicePolicy;
}

export interface PacingSimResult {
  requests: number;
  bids: number;
  wins: number;
  dailyBudgetMicros: number;
  spentMicros: number;
  utilisation: number;
  hardCapBreaches: number;
  pacingErrorRms: number;
  slots: number;
  spendBySlot: number[];
  planBySlot: number[];
  unpacedDemandMicros: number;
  /** Per pod: its share of the day's spend. */
  spentByPod: number[];
}

const DAY_MS = 86_400_000;
const SLOT_MS = 15 * 60_000;

export function hourlyVolumesFromLogs(): number[] {
  const file = join(PACKAGE_ROOT, "..", "shared", "data", "ipinyou-2259-logs", "train.log.txt");
  const w = new Array<number>(24).fill(0);
  if (!existsSync(file)) {
    // A typical diurnal curve when the data set is not beside the project.
    return [3, 2, 1.5, 1.2, 1, 1, 1.5, 2.5, 4, 5, 5.5, 5.5, 5.5, 5.5, 5.5, 5.5, 5.5, 5.5, 6, 6.5, 6.5, 6, 5, 4];
  }
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const h = Number(line.split("\t")[2]);
    if (Number.isInteger(h) && h >= 0 && h < 24) w[h]! += 1;
  }
  return w;
}

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

/** Request times over one day following the hourly weights (sorted). */
function requestTimes(n: number, weights: number[], random: () => number): number[] {
  const total = weights.reduce((a, b) => a + b, 0);
  const times: number[] = [];
  for (let h = 0; h < 24; h++) {
    const k = Math.round((n * weights[h]!) / total);
    for (let i = 0; i < k; i++) times.push(h * 3_600_000 + Math.floor(random() * 3_600_000));
  }
  return times.sort((a, b) => a - b);
}

/** Lognormal market price (CPM, USD) around the test model's ~$2 bids. */
function marketPrice(random: () => number): number {
  const u1 = Math.max(random(), 1e-12);
  const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * random());
  return Math.exp(Math.log(1.6) + 0.5 * z);
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export async function runPacingSim(o: PacingSimOptions): Promise<PacingSimResult> {
  const weights = o.hourlyWeights ?? hourlyVolumesFromLogs();
  const random = rng(o.seed);
  const times = requestTimes(o.requestsPerDay, weights, random);
  const prices = times.map(() => marketPrice(random));
  // Unpaced demand: what a multiplier of 1 would spend (the test model bids ~$2 CPM; measured below).
  // Unpaced demand: what a multiplier of 1 would spend (the test model bids ~$2 CPM).
  const demandProbe = 2.0;
  let unpaced = 0;
  for (const p of prices) if (demandProbe > p) unpaced += p * 1000;
  const daily = Math.floor(unpaced * o.budgetFraction);

  const campaigns = JSON.parse(readFileSync(join(PACKAGE_ROOT, "tests/fixtures/campaigns/test-campaigns.json"), "utf8"));
  campaigns.campaigns[0].budget = { total_micros: daily * 10, daily_micros: daily, hourly_micros: 0, minute_micros: 0 };
  if (o.hours) campaigns.campaigns[0].targeting = { ...campaigns.campaigns[0].targeting, hours: o.hours };
  // Simulated clock from a UTC midnight: the filter's features and pacing see it.
  const day0 = Date.UTC(2026, 10, 2);
  const podCount = o.pods ?? 1;
  const fleet = podCount > 1 || o.redisPolicy ? new RedisFleet(o.redisUrl ?? "redis://127.0.0.1:6379", "sim-pacing") : null;
  const sims: SimBidder[] = [];
  try {
    for (let p = 0; p < podCount; p++) {
      sims.push(
        await startSimBidder({
          vms: o.vms,
          campaigns,
          startMs: day0 - 600_000,
          budget: { minSliceMicros: daily * 10 }, // grants never limit: the ledger's daily cap and pacing do
          ...(fleet ? { budgetSource: fleet.source(`sim-pod-${p}`, () => sims[0]!.clock.now, 0, o.redisPolicy) } : {}),
          plugin: {
            tick_ms: o.tickMs,
            sync_period_ms: 60_000,
            reservation_slots: 4096,
            reservation_ttl_ms: 600_000,
            decision_budget_ms: 1000, // simulated time stands still within a request
            pacing: { ...(o.gains ?? {}), hourly_weights: weights },
          },
        }),
      );
    }
    for (const sim of sims) await sim.untilReady();
    return await simulateDay(o, sims, { day0, daily, weights, times, prices, unpaced });
  } finally {
    for (const sim of sims) await sim.close();
    await fleet?.close();
  }
}

interface DayInputs {
  day0: number;
  daily: number;
  weights: number[];
  times: number[];
  prices: number[];
  unpaced: number;
}

async function simulateDay(o: PacingSimOptions, sims: SimBidder[], d: DayInputs): Promise<PacingSimResult> {
  const { day0, daily, weights, times, prices, unpaced } = d;
  const slots = DAY_MS / SLOT_MS;
  const spendBySlot = new Array<number>(slots).fill(0);
  let bids = 0;
  let wins = 0;
  let breaches = 0;
  let nextTick = day0 + o.tickMs;
  const setClock = (t: number) => {
    for (const sim of sims) sim.clock.now = t;
  };
  // The hard cap holds for the fleet: Σ pods (charged today + reserved) never exceeds the day's budget.
  const overCap = () => {
    let held = 0n;
    for (const sim of sims) {
      const l = readLedger(sim.pool.shared, "test-cpa")!;
      held += l.dailyCharged + l.reserved;
    }
    return held > BigInt(daily);
  };
  setClock(day0);
  const headers: Array<[string, string]> = [[":method", "POST"], [":path", "/openrtb2/bid"], [":authority", "bidder.sim"], [":scheme", "http"]];
  const notice = async (sim: SimBidder, url: string) => {
    const u = new URL(url);
    const out: HttpOutcome = await sim.pool.handleHttpRequest({ headers: [[":method", "GET"], [":path", u.pathname + u.search], [":authority", "bidder.sim"], [":scheme", "http"]], body: [] });
    return out.kind === "local" ? JSON.parse(dec.decode(out.body)) : null;
  };
  for (let i = 0; i < times.length; i++) {
    const t = day0 + times[i]!;
    while (nextTick <= t) {
      setClock(nextTick);
      for (const sim of sims) await sim.tick();
      // Let every leader's sync reach its host and Redis before simulated time moves on.
      if (sims.length > 1) await new Promise((r) => setTimeout(r, 2));
      nextTick += o.tickMs;
      if (overCap()) breaches++;
    }
    setClock(t);
    const sim = sims[i % sims.length]!;
    const body = enc.encode(`{"id":"sim-${i}","imp":[{"id":"1","banner":{"w":300,"h":250},"bidfloor":0.05}],"site":{"domain":"news.example","page":"https://news.example/p${i % 50}"},"device":{"ua":"Mozilla/5.0 (Windows NT 10.0) Chrome/120.0","ip":"203.0.113.${i % 200}","geo":{"country":"USA"}}}`);
    const out = await sim.pool.handleHttpRequest({ headers, body: [body] });
    if (out.kind !== "local" || out.status !== 200) continue;
    bids++;
    const bid = JSON.parse(dec.decode(out.body)).seatbid[0].bid[0];
    const mp = prices[i]!;
    if (bid.price > mp) {
      const price = (Math.ceil(mp * 1000) / 1000).toFixed(3);
      const r = await notice(sim, bid.nurl.replace("${AUCTION_PRICE}", price));
      if (r?.status === "charged") {
        wins++;
        spendBySlot[Math.floor(times[i]! / SLOT_MS)]! += Math.round(Number(price) * 1000);
      }
    } else {
      await notice(sim, bid.lurl.replace("${AUCTION_PRICE}", "0").replace("${AUCTION_LOSS}", "102"));
    }
    if (overCap()) breaches++;
  }
  const spentByPod = sims.map((sim) => Number(readLedger(sim.pool.shared, "test-cpa")!.dailyCharged));
  const spent = spentByPod.reduce((a, b) => a + b, 0);

  // Planned spend per slot from the same hourly weights the filter paces to.
  const total = weights.reduce((a, b) => a + b, 0);
  const planBySlot = spendBySlot.map((_, s) => {
    const h = Math.floor((s * SLOT_MS) / 3_600_000);
    return (daily * weights[h]!) / total / 4;
  });
  const perSlot = daily / slots;
  const rms = Math.sqrt(spendBySlot.reduce((acc, a, s) => acc + ((a - planBySlot[s]!) / perSlot) ** 2, 0) / slots);
  return {
    requests: times.length,
    bids,
    wins,
    dailyBudgetMicros: daily,
    spentMicros: spent,
    utilisation: spent / daily,
    hardCapBreaches: breaches,
    pacingErrorRms: rms,
    slots,
    spendBySlot,
    planBySlot,
    unpacedDemandMicros: Math.round(unpaced),
    spentByPod,
  };
}

export const PACING_SIM_USAGE = `usage: npm run sim:pacing -- [REQUESTS] [--pods N] [--redis URL]

  REQUESTS       requests in the simulated day (default 100000; about that many: per-hour counts are rounded)
  --pods N       pods sharing one budget, 1-16 (default 1; above 1 they lease it from Redis)
  --redis URL    the Redis for --pods above 1 (default redis://127.0.0.1:6379)
`;

/** The command line: prints the summary as JSON; 2 for a bad command line, 1 when the run fails. */
export async function pacingSimMain(argv: string[], io = { out: (s: string) => void process.stdout.write(s), err: (s: string) => void process.stderr.write(s) }): Promise<number> {
  const bad = (message: string): number => {
    io.err(`${message}\n\n${PACING_SIM_USAGE}`);
    return 2;
  };
  let values: { pods?: string; redis?: string; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, options: { pods: { type: "string" }, redis: { type: "string" }, help: { type: "boolean", short: "h" } }, allowPositionals: true, strict: true }));
  } catch (err) {
    return bad((err as Error).message);
  }
  if (values.help) {
    io.out(PACING_SIM_USAGE);
    return 0;
  }
  if (positionals.length > 1) return bad(`unexpected argument ${JSON.stringify(positionals[1])}`);
  const requests = positionals.length === 1 ? Number(positionals[0]) : 100_000;
  if (!Number.isInteger(requests) || requests < 1 || requests > 100_000_000) return bad(`REQUESTS: expected an integer 1-100000000, got ${JSON.stringify(positionals[0])}`);
  const pods = values.pods === undefined ? 1 : Number(values.pods);
  if (!Number.isInteger(pods) || pods < 1 || pods > 16) return bad(`--pods: expected 1-16, got ${JSON.stringify(values.pods)}`);
  try {
    const r = await runPacingSim({ requestsPerDay: requests, budgetFraction: 0.5, seed: 7, vms: 2, tickMs: 5000, pods, redisUrl: values.redis });
    const { spendBySlot, planBySlot, ...summary } = r;
    io.out(`${JSON.stringify(summary, null, 2)}\n`);
    return 0;
  } catch (err) {
    io.err(`error: ${(err as Error).message}\n`);
    return 1;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await pacingSimMain(process.argv.slice(2));
}
