// Starts a real standalone bidder for tests: the compiled filter .wasm in the
// project's proxy-wasm host, the control plane, real HTTP on ephemeral ports,
// and a freshly signed test model (so tests never depend on the demo model).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { defaultConfig, type HostConfig } from "../../host/src/config.ts";
import { startStandalone, type Standalone } from "../../host/src/standalone.ts";
import { silentLogger } from "../../host/src/log.ts";
import { NexusCore } from "../../host/src/tools/core.ts";
import { encodeNxm, formatDigestFile, generateSigningKeyPair, parsePrivateKey, sha256Hex, signModelBytes } from "../../host/src/models/index.ts";

export const FIXTURES = new URL("../fixtures/", import.meta.url).pathname;

export interface TestModelOptions {
  hashBits?: number;
  pCtr?: number;
  pCvr?: number;
  /** CTR weights of features by their "field=value" string (docs/FEATURES.md), e.g. {"ip=203.0.113.*": 2}. */
  ctrWeights?: Record<string, number>;
}

/** Writes a signed NXM model with constant-ish scores; returns the directory and public key. */
export function writeTestModel(dir: string, o: TestModelOptions = {}): { file: string; publicKeyPem: string } {
  const bits = o.hashBits ?? 18;
  const n = 1 << bits;
  const wCtr = new Float32Array(n);
  const wCvr = new Float32Array(n);
  // A sprinkle of weights so scores differ between requests.
  for (let i = 0; i < 4096; i++) wCtr[(i * 2654435761) % n] = ((i % 7) - 3) * 0.05;
  if (o.ctrWeights) {
    const core = NexusCore.loadSync();
    core.setHashBits(bits);
    for (const [feature, w] of Object.entries(o.ctrWeights)) wCtr[core.bucketOf(feature)] = w;
  }
  const logit = (p: number) => Math.log(p / (1 - p));
  const model = { hashBits: bits, wCtr, bCtr: logit(o.pCtr ?? 0.002), wCvr, bCvr: logit(o.pCvr ?? 0.05) };
  const bytes = encodeNxm(model, { encoding: "auto" });
  const file = join(dir, "test.nxm");
  writeFileSync(file, bytes);
  writeFileSync(file + ".sha256", formatDigestFile(sha256Hex(bytes), "test.nxm"));
  const keys = generateSigningKeyPair();
  writeFileSync(file + ".sig", signModelBytes(bytes, parsePrivateKey(keys.privateKeyPem)));
  return { file, publicKeyPem: keys.publicKeyPem };
}

/** The test bidders' tick period (ms): how long a VM may act on a stale view of the shared ledger. */
export const TEST_TICK_MS = 50;

export interface TestBidderOptions {
  /** The bid listener's port (default 0: any free one). */
  bidPort?: number;
  vms?: number;
  vmMode?: "inline" | "workers";
  plugin?: Record<string, unknown>;
  campaigns?: unknown;
  model?: TestModelOptions;
  adminToken?: string;
  budget?: Partial<HostConfig["budget"]>;
  /** HostConfig.ipRangesFiles (NEXUS_IP_RANGES_FILES). */
  ipRangesFiles?: string[];
}

/** A test bidder's configuration: signed test model and campaigns in a fresh temporary directory. */
export function testBidderConfig(o: TestBidderOptions = {}): { cfg: HostConfig; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), "nexus-test-"));
  const { publicKeyPem } = writeTestModel(dir, o.model);
  const campaigns = o.campaigns ?? JSON.parse(readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8"));
  writeFileSync(join(dir, "campaigns.json"), JSON.stringify(campaigns));
  const cfg: HostConfig = defaultConfig();
  cfg.bid = { host: "127.0.0.1", port: o.bidPort ?? 0 };
  cfg.control = { host: "127.0.0.1", port: 0 };
  cfg.vms = o.vms ?? 2;
  cfg.vmMode = o.vmMode ?? "inline";
  // The largest decision budget (1 s): tests must not depend on this shared machine's speed (at
  // 100 ms, a 64 KiB body under a load average of 5-6 timed out twice; the
  // 4 ms default is tested deterministically with a simulated clock in time-budget.test.ts).
  // Replay protection off unless a test asks for it: most tests resend README_REQUEST (id "req-1").
  cfg.plugin = { tick_ms: TEST_TICK_MS, sync_period_ms: 100, decision_budget_ms: 1000, replay_ttl_ms: 0, ...(o.plugin ?? {}) };
  cfg.campaignsPath = join(dir, "campaigns.json");
  cfg.model = { ...cfg.model, store: dir, file: "test.nxm", publicKey: publicKeyPem, allowUnsigned: false };
  cfg.adminToken = o.adminToken ?? "";
  cfg.budget = { ...cfg.budget, ...(o.budget ?? {}) };
  cfg.ipRangesFiles = o.ipRangesFiles ?? [];
  return { cfg, dir };
}

export async function startTestBidder(o: TestBidderOptions = {}): Promise<Standalone> {
  const { cfg, dir } = testBidderConfig(o);
  const app = await startStandalone(cfg, silentLogger());
  const close = app.close.bind(app);
  app.close = async () => {
    await close();
    rmSync(dir, { recursive: true, force: true });
  };
  await app.ready(20_000);
  return app;
}

export interface HttpReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json(): any;
}

export async function post(url: string, body: string | Uint8Array, headers: Record<string, string> = {}): Promise<HttpReply> {
  const r = await request(url, { method: "POST", body, headers: { "content-type": "application/json", ...headers } });
  const text = await r.body.text();
  return { status: r.statusCode, headers: r.headers, text, json: () => JSON.parse(text) };
}

export async function get(url: string, headers: Record<string, string> = {}): Promise<HttpReply> {
  const r = await request(url, { method: "GET", headers });
  const text = await r.body.text();
  return { status: r.statusCode, headers: r.headers, text, json: () => JSON.parse(text) };
}

export const README_REQUEST = JSON.stringify({
  id: "req-1",
  imp: [{ id: "1", banner: { w: 300, h: 250 }, bidfloor: 0.5 }],
  site: { domain: "news.example", page: "https://news.example/a" },
  device: { ua: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0", ip: "203.0.113.7", geo: { country: "USA" } },
});

/** The value of an unlabelled metric on the bidder's /metrics (0 when it is not there). */
export async function metricValue(app: Standalone, name: string): Promise<number> {
  const text = await (await fetch(`${app.controlUrl}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\d+)`, "m").exec(text)?.[1] ?? 0);
}

/** The nurl of a bid with the price macro replaced. */
export function noticeUrl(template: string, price: string): string {
  return template.replace("${AUCTION_PRICE}", price).replace("${AUCTION_LOSS}", "102");
}
