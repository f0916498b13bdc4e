// Helpers for the model store tests: signed model versions, publishers (a
// directory or an S3 bucket), a capturing logger, a bidder on a store.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { Writable } from "node:stream";
import { pino, type Logger } from "pino";
import { defaultConfig, type HostConfig } from "../../../host/src/config.ts";
import { HOST_CLUSTER, closeControlPlane, hostUpstreams, startStandalone, type ControlPlane, type Standalone } from "../../../host/src/standalone.ts";
import { VmPool } from "../../../host/src/proxy-wasm/index.ts";
import {
  encodeNxm,
  formatDigestFile,
  generateSigningKeyPair,
  modelVersion,
  parsePrivateKey,
  sha256Hex,
  signModelBytes,
  type LrModelPair,
} from "../../../host/src/models/index.ts";
import { encodeNpzModel } from "../../../host/src/tools/npz-writer.ts";
import { NexusCore } from "../../../host/src/tools/core.ts";
import { FIXTURES, README_REQUEST } from "../../helpers/bidder.ts";
import type { TestS3Server } from "../../helpers/s3-server.ts";

export interface KeyPair {
  publicKeyPem: string;
  privateKeyPem: string;
}

export function newKeys(): KeyPair {
  const k = generateSigningKeyPair();
  return { publicKeyPem: k.publicKeyPem, privateKeyPem: k.privateKeyPem };
}

/** The bidder test model (tests/helpers/bidder.ts) with a chosen pCTR bias: the README request bids 1000 x pCtr x pCvr x $20 CPM. */
export function testModel(pCtr: number, hashBits = 18): LrModelPair {
  const n = 1 << hashBits;
  const wCtr = new Float32Array(n);
  const wCvr = new Float32Array(n);
  for (let i = 0; i < 4096; i++) wCtr[(i * 2654435761) % n] = ((i % 7) - 3) * 0.05;
  // ...but none on the README request's features, or its price would depend on the hour the test
  // runs (the weekday and hour features: at 03:00 UTC "hour=3" hit a weight and the price was 1.81).
  for (const b of readmeRequestBuckets(hashBits)) wCtr[b] = 0;
  const logit = (p: number) => Math.log(p / (1 - p));
  return { hashBits, wCtr, bCtr: logit(pCtr), wCvr, bCvr: logit(0.05) };
}

const readmeBuckets = new Map<number, Set<number>>();

/** The buckets of the README request's features at every weekday and hour (the filter's own extraction). */
function readmeRequestBuckets(hashBits: number): Set<number> {
  let out = readmeBuckets.get(hashBits);
  if (out !== undefined) return out;
  out = new Set<number>();
  const core = NexusCore.loadSync();
  core.setHashBits(hashBits);
  const body = new TextEncoder().encode(README_REQUEST);
  // 2024-01-07 was a Sunday: 7 days of 24 hours, whatever the filter's UTC offset.
  for (let h = 0; h < 7 * 24; h++) {
    const buckets = core.requestFeatures(body, 0, Date.UTC(2024, 0, 7) + h * 3_600_000, 0);
    if (!(buckets instanceof Uint32Array)) throw new Error("the README request does not parse");
    for (const b of buckets) out.add(b);
  }
  readmeBuckets.set(hashBits, out);
  return out;
}

export interface ModelFiles {
  name: string;
  bytes: Uint8Array;
  sha256: string;
  /** Content-derived version the host announces. */
  version: string;
  digestText: string;
  sig: Uint8Array;
}

/** Model bytes with a correct .sha256 and a .sig by `key`. */
export function signed(name: string, bytes: Uint8Array, key: KeyPair): ModelFiles {
  const sha256 = sha256Hex(bytes);
  return { name, bytes, sha256, version: modelVersion(sha256), digestText: formatDigestFile(sha256, name.split("/").pop()), sig: signModelBytes(bytes, parsePrivateKey(key.privateKeyPem)) };
}

export function nxmFiles(name: string, pCtr: number, key: KeyPair): ModelFiles {
  return signed(name, encodeNxm(testModel(pCtr), { encoding: "auto" }), key);
}

export function npzFiles(name: string, pCtr: number, key: KeyPair): ModelFiles {
  return signed(name, encodeNpzModel(testModel(pCtr)), key);
}

/** Writes objects into a store (a directory or an S3 prefix). */
export interface Publisher {
  /** Human-readable store ("/tmp/..." or "s3://bucket/prefix"), as cfg.model.store. */
  store: string;
  s3Endpoint: string;
  put(name: string, body: Uint8Array | string): Promise<void>;
  del(name: string): Promise<void>;
}

export async function publish(p: Publisher, f: ModelFiles, parts: { model?: boolean; digest?: boolean; sig?: boolean } = {}): Promise<void> {
  if (parts.model !== false) await p.put(f.name, f.bytes);
  if (parts.digest !== false) await p.put(`${f.name}.sha256`, f.digestText);
  if (parts.sig !== false) await p.put(`${f.name}.sig`, f.sig);
}

export async function setCurrent(p: Publisher, name: string): Promise<void> {
  await p.put("CURRENT", name + "\n");
}

export function dirPublisher(dir: string): Publisher {
  return {
    store: dir,
    s3Endpoint: "",
    async put(name, body) {
      const path = join(dir, name);
      mkdirSync(dirname(path), { recursive: true });
      // Atomic replace, as a real publisher would do it.
      const tmp = join(dirname(path), `.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
      writeFileSync(tmp, body);
      renameSync(tmp, path);
    },
    async del(name) {
      rmSync(join(dir, name), { force: true });
    },
  };
}

export function s3Publisher(s3: TestS3Server, bucket: string, prefix: string): Publisher {
  const key = (name: string) => (prefix ? `${prefix}/${name}` : name);
  return {
    store: `s3://${bucket}${prefix ? "/" + prefix : ""}`,
    s3Endpoint: s3.endpoint,
    put: (name, body) => s3.put(bucket, key(name), body),
    del: (name) => s3.del(bucket, key(name)),
  };
}

export interface LogLine {
  level: number;
  event?: string;
  code?: string;
  name?: string | null;
  source?: string;
  version?: string;
  [k: string]: unknown;
}

/** A pino logger that keeps its JSON lines in memory. */
export function captureLogger(level = "info"): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split("\n")) if (l.trim()) lines.push(JSON.parse(l) as LogLine);
      cb();
    },
  });
  return { log: pino({ level }, stream), lines };
}

export async function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 5000, stepMs = 10): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

export interface StoreBidderOptions {
  publisher: Publisher;
  publicKeyPem: string;
  pollMs: number;
  /** cfg.model.file (default ""). */
  file?: string;
  log: Logger;
  vms?: number;
}

/** A standalone bidder (2 inline VMs, real HTTP on ephemeral ports) whose models come from the publisher's store. */
export async function startStoreBidder(o: StoreBidderOptions): Promise<Standalone> {
  const cfg: HostConfig = defaultConfig();
  cfg.bid = { host: "127.0.0.1", port: 0 };
  cfg.control = { host: "127.0.0.1", port: 0 };
  cfg.vms = o.vms ?? 2;
  cfg.vmMode = "inline";
  cfg.plugin = { tick_ms: 50, sync_period_ms: 100, decision_budget_ms: 1000, replay_ttl_ms: 0 };
  cfg.campaignsPath = join(FIXTURES, "campaigns/test-campaigns.json");
  cfg.model = { ...cfg.model, store: o.publisher.store, file: o.file ?? "", publicKey: o.publicKeyPem, allowUnsigned: false, pollMs: o.pollMs, s3Endpoint: o.publisher.s3Endpoint };
  return startStandalone(cfg, o.log);
}

/**
 * One inline filter VM that syncs with the control plane `cp` as it would under Envoy (the host in
 * sidecar mode publishes, the filter decides what to take); its log messages go to `logs`.
 */
export function startSidecarFilter(cfg: HostConfig, cp: ControlPlane, logs: string[], o: { plugin?: Record<string, unknown>; sharedData?: { bytes: number; maxKeys: number } } = {}): Promise<VmPool> {
  return VmPool.start({
    wasm: readFileSync(cfg.wasmPath), vms: 1, mode: "inline", rootId: "nexus", vmId: "nexus",
    pluginConfig: JSON.stringify({ ...cfg.plugin, reservation_slots: 64, ...o.plugin, host_cluster: HOST_CLUSTER, sync_token: cp.syncToken }),
    upstreams: hostUpstreams(cp.controlUrl), autoTick: true,
    ...(o.sharedData ? { sharedData: o.sharedData } : {}),
    log: (_level, message) => logs.push(message),
  });
}

/** Stops what startControlPlane started and removes the test's directory. */
export async function stopControlPlane(cp: ControlPlane, dir: string): Promise<void> {
  await closeControlPlane(cp);
  rmSync(dir, { recursive: true, force: true });
}
