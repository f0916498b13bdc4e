// Frequency caps under random valid requests (the fuzz generator of openrtb-fuzz.ts), against the
// compiled filter: next to the test campaign, a copy of it worth more and frequency-capped, so it
// takes every impression it may bid on. Every answer must pass the fuzz's usual checks, and, read
// from the request independently of the filter (docs/CAMPAIGNS.md "Frequency caps"):
//   - a bid of the capped campaign names a user it can count: user.buyeruid or user.id, or a
//     device.ifa that is not all zeros under an lmt other than 1; and its notice URLs carry the
//     count key (fq=);
//   - a bid of the uncapped campaign carries none.
// The converse (an identifiable user always gets the capped bid) is not asserted: privacy signals,
// exchange lists and floors decide too.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { FIXTURES, startTestBidder } from "../helpers/bidder.ts";
import type { Standalone } from "../../host/src/standalone.ts";
import { runValid, validCase } from "./openrtb-fuzz.ts";
import { bidsOf } from "./helpers.ts";

const seed = process.env.NEXUS_FUZZ_SEED ? Number(process.env.NEXUS_FUZZ_SEED) : Date.now() % 2_147_483_647;
const RUNS = Math.round(600 * Number(process.env.NEXUS_FUZZ_SCALE ?? "1"));
const CAPPED = "test-capped";

let app: Standalone;

before(async () => {
  const set = JSON.parse(readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8"));
  const capped = structuredClone(set.campaigns[0]);
  capped.id = CAPPED;
  capped.value_per_conversion_micros = 30_000_000;
  capped.frequency_cap = { impressions: 1_000_000, seconds: 86_400 };
  set.campaigns.push(capped);
  app = await startTestBidder({ vms: 2, campaigns: set, plugin: { replay_ttl_ms: 60_000 } });
  console.log(`# fast-check seed ${seed} (NEXUS_FUZZ_SEED=${seed} to replay)`);
});
after(async () => {
  await app?.close();
});

/** The request names a user the capped campaign may count (the filter's rule, read independently). */
function namesUser(request: Record<string, any>): boolean {
  const user = request.user;
  if (user && typeof user === "object") {
    if (typeof user.buyeruid === "string" && user.buyeruid !== "") return true;
    if (typeof user.id === "string" && user.id !== "") return true;
  }
  const device = request.device;
  if (!device || typeof device !== "object") return false;
  return typeof device.ifa === "string" && device.ifa !== "" && !/^[0-]+$/.test(device.ifa) && device.lmt !== 1;
}

describe("frequency caps under random valid requests", () => {
  it(`a capped campaign's bid always names a countable user and carries its count key (${RUNS} cases)`, async () => {
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(validCase, async (c) => {
        const r = await runValid(app, c);
        const problems = [...r.problems];
        for (const b of r.status === 200 ? (bidsOf(r.answer) as Array<{ id: string; cid?: string; nurl?: string }>) : []) {
          const key = `200/${b.cid}`;
          seen.set(key, (seen.get(key) ?? 0) + 1);
          const fq = /[?&]fq=[0-9a-f]{16}&/.test(b.nurl ?? "");
          if (b.cid === CAPPED) {
            if (!namesUser(c.request as Record<string, any>)) problems.push(`bid ${b.id} of ${CAPPED} for a request that names no countable user`);
            if (!fq) problems.push(`bid ${b.id} of ${CAPPED} without fq= in its nurl`);
          } else if (fq) problems.push(`bid ${b.id} of ${b.cid} (uncapped) with fq=`);
        }
        if (r.status === 204) seen.set(`204/${r.reason}`, (seen.get(`204/${r.reason}`) ?? 0) + 1);
        assert.deepEqual(problems, [], problems.join("; "));
      }),
      { numRuns: RUNS, seed, endOnFailure: true, includeErrorInReport: true },
    );
    console.log(`# outcomes: ${JSON.stringify(Object.fromEntries([...seen].sort()))}`);
    assert.ok((seen.get(`200/${CAPPED}`) ?? 0) > 0, "the capped campaign bid at least once");
    assert.ok((seen.get("204/frequency") ?? 0) + (seen.get("200/test-cpa") ?? 0) > 0, "requests without a countable user went elsewhere");
  });
});
