// The core on requests that are heavy but within every limit the filter accepts, against a large
// valid campaign set (256 campaigns of 6 creatives, 64 deals each): what one request can cost a
// VM. docs/HARDENING.md "Worst-case decision time" has the audit behind it (a 15 KiB request took
// 1 s before the block lists and targeting were judged once per request). No target: the line is
// there to catch a change that brings super-linear work back (µs per KiB against the mix's).
//
// Run alone: node --import tsx bench/worst-case.ts [--rounds 5]
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadCore } from "./core-bench.ts";
import { FIXTURES, README_REQUEST } from "../tests/helpers/bidder.ts";

const SIZES: Array<[number, number]> = [[300, 250], [728, 90], [320, 50], [160, 600], [300, 600], [320, 480], [970, 250], [336, 280], [468, 60], [120, 600], [250, 250], [200, 200], [180, 150], [125, 125], [234, 60], [88, 31]];

/** 256 campaigns like the test campaign, 6 creatives each (the test sizes), each buying 64 deals. */
export function heavyCampaignSet(): string {
  const test = JSON.parse(readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8"));
  const t0 = test.campaigns[0];
  const campaigns = Array.from({ length: 256 }, (_, i) => ({
    ...t0,
    id: `heavy-${i}`,
    dsa: undefined,
    deals: Array.from({ length: 64 }, (_, j) => `deal-${i}-${j}`),
    targeting: { sizes: [], domains_block: Array.from({ length: 80 }, (_, j) => `blocked${j}-c${i}.example`) },
    creatives: SIZES.slice(0, 6).map(([w, h]) => ({ crid: `cr-${w}x${h}`, w, h, adm: `<img src="https://ads.nexus.example/${w}x${h}.png">`, adomain: ["nexus-demo.example"], cat: ["IAB3"] })),
  }));
  return JSON.stringify({ version: 1, campaigns });
}

/** Requests at the limits: 16 impressions of 16 formats, 511 badv entries, 400 bcat entries, 16 deals each. */
export function heavyRequests(): Array<[string, string]> {
  const base = JSON.parse(README_REQUEST);
  const imps = Array.from({ length: 16 }, (_, i) => ({ id: String(i), banner: { format: SIZES.map(([w, h]) => ({ w, h })) } }));
  const badv = Array.from({ length: 511 }, (_, i) => `www.d${i}.example`);
  const bcatBlocking = [...Array.from({ length: 400 }, (_, i) => `IAB${i + 30}`), "IAB3"];
  const dealImps = Array.from({ length: 16 }, (_, i) => ({
    id: String(i),
    banner: { w: 300, h: 250 },
    pmp: { private_auction: 0, deals: Array.from({ length: 16 }, (_, j) => ({ id: `deal-${(i * 16 + j) % 256}-${j}`, bidfloor: 0.1 })) },
  }));
  return [
    ["16 imps × 16 formats, badv 511", JSON.stringify({ ...base, imp: imps, badv })],
    ["16 imps × 16 formats, badv 511, bcat blocking all", JSON.stringify({ ...base, imp: imps, badv, bcat: bcatBlocking })],
    ["16 imps × 16 deals", JSON.stringify({ ...base, imp: dealImps })],
  ];
}

export interface WorstCaseLine {
  name: string;
  bytes: number;
  /** The core's answer: 200 bid, 204 no-bid (`reason`: assembly/core/bidding/reasons.ts), 400 bad request. */
  status: number;
  reason: number;
  /** Median µs per decision. */
  us: number;
  usPerKiB: number;
}

/** Median µs per decision of each heavy request on the core with the heavy set loaded. */
export async function benchWorstCase(modelNxm: Uint8Array, rounds: number): Promise<WorstCaseLine[]> {
  const { api, put } = await loadCore(modelNxm, heavyCampaignSet());
  const now = BigInt(Date.UTC(2026, 10, 25, 12));
  const out: WorstCaseLine[] = [];
  for (const [name, json] of heavyRequests()) {
    const body = new TextEncoder().encode(json);
    const run = () => api.decide(put(body), now);
    const code = run();
    const samples: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const reps = 20;
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < reps; i++) run();
      samples.push(Number(process.hrtime.bigint() - t0) / reps / 1000);
    }
    samples.sort((a, b) => a - b);
    const us = samples[Math.floor(samples.length / 2)]!;
    out.push({ name, bytes: body.byteLength, status: code & 0xffff, reason: code >>> 16, us, usPerKiB: us / (body.byteLength / 1024) });
  }
  return out;
}

export function worstCaseLine(l: WorstCaseLine): string {
  return `worst   ${l.name.padEnd(50)} ${String(l.bytes).padStart(6)} B  ${(l.status + (l.reason > 0 ? "/" + l.reason : "")).padEnd(6)}  ${l.us.toFixed(0).padStart(6)} µs  ${l.usPerKiB.toFixed(1)} µs/KiB`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { parseArgs } = await import("node:util");
  const { mkdtempSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { writeTestModel } = await import("../tests/helpers/bidder.ts");
  const { values } = parseArgs({ options: { rounds: { type: "string", default: "5" } } });
  const model = new Uint8Array(readFileSync(writeTestModel(mkdtempSync(join(tmpdir(), "nexus-worst-")), {}).file));
  for (const l of await benchWorstCase(model, Number(values.rounds))) {
    console.log(worstCaseLine(l));
  }
}
