// SIGTERM to a real `nexus-rtb serve` in sidecar mode, with the filter in a VM pool standing in for
// Envoy (its syncs reach the host over HTTP): after the host has returned the unspent budget,
// Envoy still answers and charges the notices of its bids, and those charges reach Redis only
// through the filter's next syncs. The host now answers them for the notice window; before, it
// exited right after the return and a win charged then was never reported (Redis charged 0).
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { Redis } from "ioredis";
import { deletePrefix, uniquePrefix } from "../../helpers/redis-server.ts";
import { cpmToMicros } from "../../helpers/ledger.ts";
import { README_REQUEST } from "../../helpers/bidder.ts";
import { VmPool } from "../../../host/src/proxy-wasm/index.ts";
import { HOST_CLUSTER, hostUpstreams } from "../../../host/src/standalone.ts";
import { defaultConfig } from "../../../host/src/config.ts";
import { until } from "../../hardening/helpers.ts";
import { CAMPAIGN, PLUGIN, ROOT, sleep, tempDir, writeBudgetFixtures } from "./bidders.ts";

const REDIS_URL = process.env.NEXUS_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const SYNC_TOKEN = "sidecar-stop-sync-token-0123456789";
const POD = "sidecar-stop";

function headers(method: string, path: string): Array<[string, string]> {
  return [[":method", method], [":path", path], [":authority", "bidder.test"], [":scheme", "http"], ["content-type", "application/json"]];
}

describe("SIGTERM to serve (sidecar): the filter's reports after the return", () => {
  const prefix = uniquePrefix("sidecar-stop");
  const tmp = tempDir("sidecar-stop");
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  let host: ChildProcess | undefined;
  let pool: VmPool | undefined;

  after(async () => {
    await pool?.close();
    if (host && host.exitCode === null && host.signalCode === null) host.kill("SIGKILL");
    await deletePrefix(redis, prefix);
    redis.disconnect();
    tmp.remove();
  });

  it("a win charged by Envoy's filter after the host returned the unspent budget reaches Redis before the host exits", async () => {
    const { campaigns, publicKeyPem } = writeBudgetFixtures(tmp.dir, 2_000_000);
    host = spawn(process.execPath, ["--import", "tsx", "host/src/cli/main.ts", "serve"], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        NEXUS_MODE: "sidecar",
        NEXUS_CONTROL_PORT: "0",
        NEXUS_SYNC_TOKEN: SYNC_TOKEN,
        NEXUS_BUDGET_SOURCE: "redis",
        NEXUS_REDIS_URL: REDIS_URL,
        NEXUS_REDIS_PREFIX: prefix,
        NEXUS_POD_ID: POD,
        NEXUS_CAMPAIGNS: campaigns,
        NEXUS_MODEL_STORE: tmp.dir,
        NEXUS_MODEL_FILE: "test.nxm",
        NEXUS_MODEL_PUBLIC_KEY: publicKeyPem,
        NEXUS_BUDGET_PACING_SECONDS: "4",
        NEXUS_BUDGET_MIN_SLICE_MICROS: "100000",
        NEXUS_NOTICE_DRAIN_MS: "3000",
        NEXUS_LOG_LEVEL: "info",
      },
    });
    let out = "";
    host.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    host.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => host!.once("exit", (code) => resolve(code)));
    await until(() => /control plane listening on (http:\/\/\S+)/.test(out), 45_000, "the control plane");
    const controlUrl = /control plane listening on (http:\/\/\S+)/.exec(out)![1]!;

    // Envoy's part: the filter, syncing with the host as Envoy's would.
    pool = await VmPool.start({
      wasm: readFileSync(defaultConfig().wasmPath), vms: 1, mode: "inline", rootId: "nexus", vmId: "nexus",
      pluginConfig: JSON.stringify({ ...PLUGIN, replay_ttl_ms: 0, host_cluster: HOST_CLUSTER, sync_token: SYNC_TOKEN }),
      upstreams: hostUpstreams(controlUrl), autoTick: true,
    });
    const p = pool;
    let bid: { price: number; nurl: string } | undefined;
    const end = Date.now() + 15_000;
    while (!bid) {
      const o = await p.handleHttpRequest({ headers: headers("POST", "/openrtb2/bid"), body: [new TextEncoder().encode(README_REQUEST.replace('"req-1"', `"sc-${Date.now()}"`))] });
      if (o.kind === "local" && o.status === 200) bid = JSON.parse(new TextDecoder().decode(o.body)).seatbid[0].bid[0];
      else if (Date.now() > end) assert.fail(`no bid from the filter: ${JSON.stringify(o.kind === "local" ? [o.status, o.headers] : o.kind)}`);
      else await sleep(50);
    }
    const won = bid;
    const micros = Number(cpmToMicros(String(won.price)));

    host.kill("SIGTERM");
    await until(() => /"event":"budget_returned"/.test(out), 10_000, "the return of the unspent budget");
    // Envoy still answers the bid's win notice: its filter charges it.
    const u = new URL(won.nurl.replace("${AUCTION_PRICE}", String(won.price)));
    const win = await p.handleHttpRequest({ headers: headers("GET", u.pathname + u.search), body: [] });
    assert.equal(win.kind === "local" ? win.status : win.kind, 200);
    assert.equal(JSON.parse(new TextDecoder().decode(win.kind === "local" ? win.body : new Uint8Array())).status, "charged");

    assert.equal(await exited, 0, out.slice(-2000));
    const charged = Number(await redis.hget(`{nexus:${prefix}:${CAMPAIGN}}:pod:${POD}`, "charged"));
    assert.equal(charged, micros, "the win charged after the return is in the pod's charged in Redis");
    assert.match(out, /"event":"notice_window_closed","ended":"settled"/, "the window ended once nothing was reserved");
  });
});
