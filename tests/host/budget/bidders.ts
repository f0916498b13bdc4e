// Helpers of the budget tests: bidder processes (the real CLI, `serve`) sharing
// a Redis budget, a test campaign set with a small budget, and a load loop that
// bids, wins every bid at its price, and records what it was charged.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { FIXTURES, README_REQUEST, noticeUrl, writeTestModel } from "../../helpers/bidder.ts";
import { cpmToMicros } from "../../helpers/ledger.ts";

export const ROOT = new URL("../../../", import.meta.url).pathname;
export const CAMPAIGN = "test-cpa";
export const ADMIN_TOKEN = "budget-test-admin-token-0123456789";

/**
 * The plugin configuration of budget tests: fast ticks and syncs, a generous decision budget
 * (shared 2-core machine), and pacing pinned to 1 so that bids are the model's price (capped
 * at $20 CPM = 20 000 micros per win by the campaign).
 */
export const PLUGIN = { tick_ms: 50, sync_period_ms: 100, decision_budget_ms: 1000, pacing: { min_multiplier: 1, max_multiplier: 1 } };

/** Writes the test campaign set with the given budget and a model whose bids hit the $20 CPM cap. */
export function writeBudgetFixtures(dir: string, budgetMicros: number): { campaigns: string; publicKeyPem: string } {
  const set = JSON.parse(readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8"));
  set.campaigns[0].budget = { total_micros: budgetMicros, daily_micros: budgetMicros, hourly_micros: 0, minute_micros: 0 };
  const campaigns = join(dir, "campaigns.json");
  writeFileSync(campaigns, JSON.stringify(set));
  const { publicKeyPem } = writeTestModel(dir, { pCtr: 0.01, pCvr: 0.5 });
  return { campaigns, publicKeyPem };
}

export class BidderProcess {
  bidUrl = "";
  controlUrl = "";
  stderr = "";
  stdout = "";
  private constructor(readonly name: string, readonly child: ChildProcess) {}

  /** Starts `nexus-rtb serve` (standalone) and waits for its "listening on" line. */
  static async start(name: string, env: Record<string, string>, timeoutMs = 45_000): Promise<BidderProcess> {
    const child = spawn(process.execPath, ["--import", "tsx", "host/src/cli/main.ts", "serve"], {
      cwd: ROOT,
      env: { ...process.env, NEXUS_LOG_LEVEL: "warn", NEXUS_BID_PORT: "0", NEXUS_CONTROL_PORT: "0", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const p = new BidderProcess(name, child);
    child.stderr!.on("data", (d: Buffer) => {
      p.stderr = (p.stderr + d.toString()).slice(-20_000);
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name}: not listening after ${timeoutMs} ms\n${p.stderr}`)), timeoutMs);
      child.stdout!.on("data", (d: Buffer) => {
        p.stdout += d.toString();
        const m = /listening on (http:\/\/\S+) .*control plane on (http:\/\/\S+)/.exec(p.stdout);
        if (m && !p.bidUrl) {
          p.bidUrl = m[1]!;
          p.controlUrl = m[2]!;
          clearTimeout(timer);
          resolve();
        }
      });
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited (${code ?? signal}) before listening\n${p.stderr}`));
      });
    });
    return p;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGTERM, then SIGKILL if it has not ended after graceMs. */
  async stop(graceMs = 3000): Promise<void> {
    if (!this.running) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
  }

  async adminState(): Promise<any> {
    const r = await request(`${this.controlUrl}/admin/v1/state`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    if (r.statusCode !== 200) throw new Error(`${this.name}: admin state ${r.statusCode} ${await r.body.text()}`);
    return r.body.json();
  }

  async metrics(): Promise<string> {
    const r = await request(`${this.controlUrl}/metrics`);
    return r.body.text();
  }
}

/** What one bidder answered under load. */
export class LoadStats {
  requests = 0;
  bids = 0;
  wins = 0;
  chargedMicros = 0n;
  errors = 0;
  lastError = "";
  lastBidAt = 0;
  lastReason = "";
  reasons = new Map<string, number>();
  /** Answers since the last bid. */
  sinceBid = 0;
}

let seq = 0;
/** A bid request with a unique id (the filter rejects replayed ids). */
export function bidRequest(): string {
  return README_REQUEST.replace('"id":"req-1"', `"id":"budget-${process.pid}-${++seq}"`);
}

/**
 * Sends bid requests to one bidder with `concurrency` loops until stop() is true; wins every
 * bid at its own price (the reservation is charged in full).
 */
export async function runLoad(bidUrl: string, stats: LoadStats, concurrency: number, stop: () => boolean): Promise<void> {
  const loop = async () => {
    while (!stop()) {
      try {
        const r = await request(`${bidUrl}/openrtb2/bid`, { method: "POST", body: bidRequest(), headers: { "content-type": "application/json" } });
        const text = await r.body.text();
        stats.requests++;
        if (r.statusCode === 200) {
          const bids: Array<{ price: number; nurl: string }> = JSON.parse(text).seatbid.flatMap((s: { bid: unknown[] }) => s.bid);
          stats.bids += bids.length;
          stats.lastBidAt = Date.now();
          stats.sinceBid = 0;
          stats.lastReason = "";
          for (const b of bids) {
            const price = String(b.price);
            const w = await request(noticeUrl(b.nurl, price));
            const body = await w.body.text();
            if (w.statusCode === 200 && body.includes('"charged"')) {
              stats.wins++;
              stats.chargedMicros += cpmToMicros(price);
            } else {
              stats.errors++;
              stats.lastError = `win ${w.statusCode} ${body}`;
            }
          }
        } else if (r.statusCode === 204) {
          const reason = String(r.headers["x-nexus-nobid-reason"] ?? "");
          stats.lastReason = reason;
          stats.sinceBid++;
          stats.reasons.set(reason, (stats.reasons.get(reason) ?? 0) + 1);
        } else {
          stats.errors++;
          stats.lastError = `bid ${r.statusCode} ${text}`;
        }
      } catch (err) {
        stats.errors++;
        stats.lastError = (err as Error).message;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
}

export function tempDir(name: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `nexus-${name}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A metric's value from Prometheus text (sum over the series that match the labels). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  let found = false;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const ls = m[2] ?? "";
    if (Object.entries(labels).every(([k, v]) => ls.includes(`${k}="${v}"`))) {
      sum += Number(m[3]);
      found = true;
    }
  }
  return found ? sum : NaN;
}
