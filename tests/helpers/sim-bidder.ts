// A bidder with a simulated clock: the control plane over real HTTP, and
// inline filter VMs whose proxy_get_current_time_nanoseconds reads `clock.now`.
// For tests that need deterministic time (time budget, TTLs, pacing).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VmPool } from "../../host/src/proxy-wasm/pool.ts";
import { startControlPlane, type ControlPlane } from "../../host/src/standalone.ts";
import { defaultConfig } from "../../host/src/config.ts";
import { silentLogger } from "../../host/src/log.ts";
import { DEFAULT_WASM } from "../../host/src/paths.ts";
import type { HttpOutcome } from "../../host/src/proxy-wasm/types.ts";
import type { BudgetSource } from "../../host/src/control/budget.ts";
import type { SharedDataStore } from "../../host/src/proxy-wasm/shared-data.ts";
import { FIXTURES, writeTestModel } from "./bidder.ts";

export interface SimClock {
  /** Milliseconds since the epoch; the monotonic clock reads the same (see wallOffsetMs). */
  now: number;
  /** Added to the wall clock only: a wall clock that steps (NTP) while the monotonic one does not. */
  wallOffsetMs: number;
  /** Added to `now` on every read of either clock by the filter (to make work look slow). */
  stepPerReadMs: number;
  /** Added to `wallOffsetMs` on every read of the wall clock (a wall clock that keeps stepping, e.g. back). */
  wallStepPerReadMs: number;
}

export interface SimBidder {
  pool: VmPool;
  cp: ControlPlane;
  clock: SimClock;
  /** Ticks every VM and lets the event loop deliver HTTP callouts. */
  tick(): Promise<void>;
  /** Ticks until every VM has loaded campaigns and model. */
  untilReady(): Promise<void>;
  bid(body: string): Promise<HttpOutcome>;
  get(path: string): Promise<HttpOutcome>;
  close(): Promise<void>;
}

export interface SimBidderOptions {
  vms?: number;
  plugin?: Record<string, unknown>;
  campaigns?: unknown;
  startMs?: number;
  /** Another build of the filter (e.g. the allocation-tracing one). */
  wasmPath?: string;
  instrumentation?: Record<string, Record<string, (...args: number[]) => unknown>>;
  /** Reports every host call and callback of the VMs (VmOptions.traceCalls). */
  traceCalls?: (name: string) => void;
  /** Replaces host functions (VmOptions.interceptImports). */
  interceptImports?: import("../../host/src/proxy-wasm/vm.ts").VmOptions["interceptImports"];
  /** Streams end and local replies go as under Envoy (and the standalone server): see VmOptions. */
  envoyStreams?: boolean;
  budget?: Partial<ReturnType<typeof defaultConfig>["budget"]>;
  /** Run against this control plane (e.g. a second Envoy process under the same host); close() leaves it running. */
  controlPlane?: ControlPlane;
  /** The control plane's budget source (e.g. Redis shared with other pods); the caller closes it. */
  budgetSource?: BudgetSource;
  /** An existing shared-data store: VMs of a new configuration in the same Envoy process. */
  sharedData?: SharedDataStore;
}

/**
 * One VM run as the standalone server (and Envoy) runs streams, with the replay guard on as in
 * production and the whole test budget granted at once: what the crossings are counted on
 * (tests/filter/host-calls.test.ts, bench/filter-bench.ts).
 */
export const PRODUCTION_LIKE: SimBidderOptions = {
  vms: 1,
  envoyStreams: true,
  plugin: { decision_budget_ms: 1000, replay_ttl_ms: 60_000 },
  budget: { minSliceMicros: 900_000_000 },
};

/** Fails (after closing it) when a simulated bidder starts with these options: for configurations the filter must refuse. */
/** `reason`: what the refusal must say (any refusal passes without it). */
export async function assertSimRefused(o: SimBidderOptions, reason?: RegExp): Promise<void> {
  let sim: SimBidder;
  try {
    sim = await startSimBidder(o);
  } catch (err) {
    if (reason && !reason.test((err as Error).message)) throw new Error(`refused for another reason than ${reason}: ${(err as Error).message}`);
    return;
  }
  await sim.close();
  throw new Error(`the filter started with ${JSON.stringify(o.plugin ?? {})}; it must refuse it`);
}

export async function startSimBidder(o: SimBidderOptions = {}): Promise<SimBidder> {
  const dir = mkdtempSync(join(tmpdir(), "nexus-sim-"));
  const { publicKeyPem } = writeTestModel(dir, {});
  const campaigns = o.campaigns ?? JSON.parse(readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8"));
  writeFileSync(join(dir, "campaigns.json"), JSON.stringify(campaigns));
  const cfg = defaultConfig();
  cfg.control = { host: "127.0.0.1", port: 0 };
  cfg.campaignsPath = join(dir, "campaigns.json");
  cfg.model = { ...cfg.model, store: dir, file: "test.nxm", publicKey: publicKeyPem };
  cfg.budget = { ...cfg.budget, ...(o.budget ?? {}) };
  const cp = o.controlPlane ?? (await startControlPlane(cfg, silentLogger(), o.budgetSource));
  const clock: SimClock = { now: o.startMs ?? Date.UTC(2026, 10, 2, 12), wallOffsetMs: 0, stepPerReadMs: 0, wallStepPerReadMs: 0 };
  const vms = o.vms ?? 1;
  let pool: VmPool;
  try {
    pool = await VmPool.start({
      wasm: readFileSync(o.wasmPath ?? DEFAULT_WASM),
      ...(o.instrumentation ? { instrumentation: o.instrumentation } : {}),
      ...(o.traceCalls ? { traceCalls: o.traceCalls } : {}),
      ...(o.interceptImports ? { interceptImports: o.interceptImports } : {}),
      ...(o.envoyStreams ? { streamLifecycle: "envoy" as const, localReplyThroughFilter: true } : {}),
      vms,
      mode: "inline",
      rootId: "nexus",
      pluginConfig: JSON.stringify({ host_cluster: "nexus_host", sync_token: cp.syncToken, tick_ms: 1000, sync_period_ms: 1000, replay_ttl_ms: 0, ...(o.plugin ?? {}) }),
      upstreams: { nexus_host: cp.controlUrl },
      // Keys: the reservation ring (reservation_slots) plus per-campaign and per-VM keys.
      sharedData: o.sharedData ?? { bytes: 128 << 20, maxKeys: 200_000 },
      clock: {
        nowNanos: () => {
          const t = clock.now + clock.wallOffsetMs;
          clock.now += clock.stepPerReadMs;
          clock.wallOffsetMs += clock.wallStepPerReadMs;
          return BigInt(Math.round(t * 1e6));
        },
        monotonicNanos: () => {
          const t = clock.now;
          clock.now += clock.stepPerReadMs;
          return BigInt(Math.round(t * 1e6));
        },
      },
      autoTick: false,
      log: () => {},
    });
  } catch (err) {
    // A refused plugin configuration: nothing may keep the test process alive.
    if (!o.controlPlane) await cp.control.close();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const tick = async () => {
    await pool.tickAll();
    await new Promise((r) => setImmediate(r));
  };
  const enc = new TextEncoder();
  return {
    pool,
    cp,
    clock,
    tick,
    async untilReady() {
      for (let i = 0; i < 500; i++) {
        clock.now += 1000;
        await tick();
        await new Promise((r) => setTimeout(r, 5)); // let the leader's HTTP calls to the host complete
        let loaded = 0;
        for (const k of pool.shared.keys()) {
          const v = k.startsWith("nexus/v1/vm/") ? pool.shared.get(k) : undefined;
          if (v && v.value[16] === 1 && new DataView(v.value.buffer, v.value.byteOffset).getBigInt64(8, true) >= 0n) loaded++;
        }
        if (loaded >= vms && pool.shared.get("nexus/v1/ledger/test-cpa")) return;
      }
      throw new Error("simulated bidder never became ready");
    },
    bid(body: string) {
      return pool.handleHttpRequest({
        headers: [[":method", "POST"], [":path", "/openrtb2/bid"], [":authority", "bidder.test"], [":scheme", "http"]],
        body: [enc.encode(body)],
      });
    },
    get(path: string) {
      return pool.handleHttpRequest({ headers: [[":method", "GET"], [":path", path], [":authority", "bidder.test"], [":scheme", "http"]], body: [] });
    },
    async close() {
      await pool.close();
      if (!o.controlPlane) await cp.control.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Ticks `n` times, a second of both clocks each, letting the leader's calls to the host (sync,
 * config) complete. `tick`: what ticks (default every VM; e.g. one VM's slot).
 */
export async function ticks(sim: SimBidder, n: number, tick = () => sim.tick()): Promise<void> {
  for (let i = 0; i < n; i++) {
    sim.clock.now += 1000;
    await tick();
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The campaign-set version each VM reports in its status record (nexus/v1/vm/<seq>, bytes 8-15). */
export function configVersions(sim: SimBidder): number[] {
  return sim.pool.shared
    .keys()
    .filter((k) => k.startsWith("nexus/v1/vm/"))
    .map((k) => {
      const v = sim.pool.shared.get(k)!.value;
      return Number(new DataView(v.buffer, v.byteOffset).getBigInt64(8, true));
    });
}

/** Bids `n` times with `body` and wins every bid at its own price (each win notice answered 200). */
export async function bidAndWin(sim: SimBidder, body: string, n: number): Promise<void> {
  const dec = new TextDecoder();
  for (let i = 0; i < n; i++) {
    const out = await sim.bid(body);
    if (out.kind !== "local" || out.status !== 200) throw new Error(`bid ${i + 1} of ${n}: no bid (${out.kind === "local" ? out.status : out.kind})`);
    const b = JSON.parse(dec.decode(out.body)).seatbid[0].bid[0];
    const u = new URL(b.nurl.replace("${AUCTION_PRICE}", b.price.toFixed(3)));
    const win = await sim.get(u.pathname + u.search);
    if (win.kind !== "local" || win.status !== 200) throw new Error(`win notice ${i + 1} of ${n}: not answered 200`);
  }
}
