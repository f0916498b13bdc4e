#!/usr/bin/env node
// Long fuzz run of the compiled filter: N random mutations of valid OpenRTB
// requests (and N/10 valid requests) through the VM pool of a standalone test
// bidder, with the same generators and checks as the CI property tests
// (tests/hardening/openrtb-fuzz.ts). It does not stop at the first failure:
// every failure is saved (input bytes + what was wrong, with its seed) and
// minimised, and a summary is printed at the end.
//
//   node --import tsx scripts/fuzz-long.ts 200000
//   node --import tsx scripts/fuzz-long.ts 1000000 --seed 42 --out /tmp/fuzz --vms 4 --workers
//
// Options: --seed S (default: time), --valid M (default N/10), --out DIR
// (default /tmp/nexus-fuzz-<seed>), --vms K (default 2), --workers (worker
// threads instead of inline VMs), --replay-ttl MS (default 60000; 0 = guard off).
// Exit code 1 when anything failed.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { startTestBidder } from "../tests/helpers/bidder.ts";
import { reserved, poolBid } from "../tests/hardening/helpers.ts";
import { mutatedCase, runMutated, runValid, validCase, type CaseResult } from "../tests/hardening/openrtb-fuzz.ts";
import type { Standalone } from "../host/src/standalone.ts";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : fallback;
}

const N = Number(process.argv[2] ?? "10000");
if (!Number.isInteger(N) || N <= 0) {
  console.error("usage: node --import tsx scripts/fuzz-long.ts <cases> [--seed S] [--valid M] [--out DIR] [--vms K] [--workers] [--replay-ttl MS]");
  process.exit(2);
}
const seed = Number(arg("--seed", String(Date.now() % 2_147_483_647)));
const validN = Number(arg("--valid", String(Math.round(N / 10))));
const out = arg("--out", `/tmp/nexus-fuzz-${seed}`);
const vms = Number(arg("--vms", "2"));
const workers = process.argv.includes("--workers");
const replayTtl = Number(arg("--replay-ttl", "60000"));
const BATCH = 500;

interface Failure {
  kind: "mutated" | "valid";
  index: number;
  seed: number;
  batchIndex: number;
  status: number;
  problems: string[];
  file: string;
  minimal?: string;
}

const byStatus = new Map<string, number>();
const failures: Failure[] = [];
let traps = 0;
let tried = 0;

function count(kind: string, r: CaseResult): void {
  const key = `${kind} ${r.status}${r.status === 204 ? `/${r.reason}` : ""}`;
  byStatus.set(key, (byStatus.get(key) ?? 0) + 1);
}

/** Greedy byte-level minimisation: drops chunks while the same failure (status class or trap) stays. */
async function minimise(app: Standalone, input: Buffer, failing: (body: Buffer) => Promise<boolean>): Promise<Buffer> {
  let best = input;
  let budget = 3000;
  for (let chunk = Math.max(1, best.length >> 1); chunk >= 1 && budget > 0; chunk >>= 1) {
    let i = 0;
    while (i < best.length && budget-- > 0) {
      const candidate = Buffer.concat([best.subarray(0, i), best.subarray(i + chunk)]);
      if (candidate.length > 0 && (await failing(candidate))) best = candidate;
      else i += chunk;
    }
  }
  void app;
  return best;
}

async function record(app: Standalone, kind: Failure["kind"], index: number, batchSeed: number, batchIndex: number, r: CaseResult, trapped: boolean): Promise<void> {
  const name = `${kind}-${index}`;
  const file = join(out, `${name}.bin`);
  writeFileSync(file, r.body);
  const f: Failure = { kind, index, seed: batchSeed, batchIndex, status: r.status, problems: trapped ? ["VM trapped", ...r.problems] : r.problems, file };
  // Minimise against the same symptom.
  const restarts = () => app.pool.vmRestarts;
  const failing = async (body: Buffer) => {
    const before = restarts();
    const a = await poolBid(app, body);
    if (trapped) return restarts() > before || a.kind !== "local";
    if (r.status === -1 || ![200, 204, 400, 413].includes(r.status)) return a.status === r.status;
    return false;
  };
  if (trapped || ![200, 204, 400, 413].includes(r.status)) {
    const min = await minimise(app, r.body, failing);
    f.minimal = join(out, `${name}.min.bin`);
    writeFileSync(f.minimal, min);
  }
  writeFileSync(join(out, `${name}.json`), JSON.stringify(f, null, 1));
  failures.push(f);
  console.log(`FAILURE ${name} (seed ${batchSeed}, index ${batchIndex}): status ${r.status}; ${f.problems.join("; ").slice(0, 400)} -> ${file}`);
}

async function main(): Promise<void> {
  mkdirSync(out, { recursive: true });
  const started = Date.now();
  const app = await startTestBidder({ vms, vmMode: workers ? "workers" : "inline", plugin: { replay_ttl_ms: replayTtl } });
  const startReserved = reserved(app);
  console.log(`fuzz-long: ${N} mutated + ${validN} valid cases, seed ${seed}, ${vms} ${workers ? "worker" : "inline"} VMs, replay_ttl_ms ${replayTtl}, failures to ${out}`);
  try {
    for (const [kind, total, arb] of [["valid", validN, validCase], ["mutated", N, mutatedCase]] as const) {
      for (let b = 0; b * BATCH < total; b++) {
        const batchSeed = seed + (kind === "valid" ? 1_000_000 : 0) + b;
        const cases = fc.sample(arb as fc.Arbitrary<unknown>, { seed: batchSeed, numRuns: Math.min(BATCH, total - b * BATCH) });
        for (let i = 0; i < cases.length; i++) {
          const before = app.pool.vmRestarts;
          const r = kind === "valid" ? await runValid(app, cases[i] as Parameters<typeof runValid>[1]) : await runMutated(app, cases[i] as Parameters<typeof runMutated>[1]);
          tried++;
          count(kind, r);
          const trapped = app.pool.vmRestarts !== before || r.status === -1;
          if (trapped) traps++;
          if (trapped || r.problems.length > 0) await record(app, kind, b * BATCH + i, batchSeed, i, r, trapped);
        }
        if (tried % 20_000 < BATCH) {
          const s = (Date.now() - started) / 1000;
          console.log(`  ${tried} cases, ${failures.length} failures, ${traps} traps, ${(tried / s).toFixed(0)} cases/s, reserved ${reserved(app) - startReserved} micros above start`);
        }
      }
    }
    const endReserved = reserved(app);
    const secs = (Date.now() - started) / 1000;
    const summary = {
      cases: tried,
      seconds: Math.round(secs),
      casesPerSecond: Math.round(tried / secs),
      seed,
      answers: Object.fromEntries([...byStatus].sort()),
      failures: failures.length,
      traps,
      vmRestarts: app.pool.vmRestarts,
      reservedLeak: String(endReserved - startReserved),
      failureFiles: failures.map((f) => ({ file: f.file, minimal: f.minimal, seed: f.seed, index: f.batchIndex, status: f.status, problems: f.problems })),
    };
    writeFileSync(join(out, "summary.json"), JSON.stringify(summary, null, 1));
    console.log(JSON.stringify(summary, null, 1));
    if (failures.length > 0 || endReserved !== startReserved) process.exitCode = 1;
  } finally {
    await app.close();
  }
}

await main();
