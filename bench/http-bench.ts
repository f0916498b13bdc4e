// HTTP side of the benchmark: the standalone bidder against a bare node:http
// server that answers every request with the same constant bid response (the
// framework's limit), both loaded from a separate process.
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { FIXTURES, writeTestModel } from "../tests/helpers/bidder.ts";
import { PACKAGE_ROOT } from "../host/src/paths.ts";

export interface LoadResult {
  requests: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  errors: number;
  statuses: Record<string, number>;
}

function load(url: string, bodiesFile: string, args: string[]): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", new URL("./http-load.ts", import.meta.url).pathname, "--url", url, "--bodies", bodiesFile, ...args], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.on("exit", (code) => (code === 0 ? resolve(JSON.parse(out.trim().split("\n").pop()!)) : reject(new Error(`load generator exited ${code}`))));
  });
}

export interface HttpBenchResult {
  bare: LoadResult;
  bidderSaturation: LoadResult;
  bidderHalfRate: LoadResult;
  ratio: number;
  /** RSS of the bidder process after the load. */
  serverRssBytes: number;
}

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = /VmRSS:\s+(\d+) kB/.exec(status);
  return kb ? Number(kb[1]) * 1024 : -1;
}

async function startServerProcess(dir: string): Promise<{ url: string; pid: number; kill(): void }> {
  const { publicKeyPem } = writeTestModel(dir, {});
  const campaigns = JSON.parse(readFileSync(join(FIXTURES, "campaigns/test-campaigns.json"), "utf8"));
  writeFileSync(join(dir, "campaigns.json"), JSON.stringify(campaigns));
  const child = spawn(process.execPath, [join(PACKAGE_ROOT, "dist/nexus-rtb.mjs"), "serve"], {
    stdio: ["ignore", "pipe", "ignore"],
    env: {
      ...process.env,
      NEXUS_BID_PORT: "0",
      NEXUS_CONTROL_PORT: "0",
      NEXUS_CAMPAIGNS: join(dir, "campaigns.json"),
      NEXUS_MODEL_STORE: dir,
      NEXUS_MODEL_FILE: "test.nxm",
      NEXUS_MODEL_PUBLIC_KEY: publicKeyPem,
      NEXUS_LOG_LEVEL: "warn",
      NEXUS_PLUGIN_CONFIG: JSON.stringify({ utc_offset_minutes: 0 }),
    },
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error("bidder did not start")), 30_000);
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/[^ ]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.on("exit", (code) => reject(new Error(`bidder exited ${code}`)));
  });
  return { url, pid: child.pid!, kill: () => child.kill("SIGTERM") };
}

export async function benchHttp(bodies: Uint8Array[], seconds: number): Promise<HttpBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), "nexus-http-"));
  const bodiesFile = join(dir, "bodies.json");
  writeFileSync(bodiesFile, JSON.stringify(bodies.map((b) => new TextDecoder().decode(b))));

  // The framework's limit: read the body, answer a constant bid response.
  const constant = '{"id":"req-1","bidid":"0-0","cur":"USD","seatbid":[{"seat":"nexus","bid":[{"id":"0-0","impid":"1","price":1.5,"nurl":"http://b/openrtb2/win?bid=0-0&price=${AUCTION_PRICE}","adm":"<img src=\\"x\\">","adomain":["a.example"],"crid":"c","w":300,"h":250,"cid":"c"}]}]}';
  const bare = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(constant) });
      res.end(constant);
    });
  });
  await new Promise<void>((r) => bare.listen(0, "127.0.0.1", r));
  const bareUrl = `http://127.0.0.1:${(bare.address() as AddressInfo).port}/openrtb2/bid`;
  const bareResult = await load(bareUrl, bodiesFile, ["--concurrency", "32", "--seconds", String(seconds)]);
  await new Promise<void>((r) => bare.close(() => r()));

  // The bidder as `npm start` runs it (the bundled CLI, its own process, inline VMs), on the
  // test model and campaigns, with a budget that does not run out during the bench.
  const server = await startServerProcess(dir);
  try {
    const url = `${server.url}/openrtb2/bid`;
    const saturation = await load(url, bodiesFile, ["--concurrency", "32", "--seconds", String(seconds)]);
    const half = await load(url, bodiesFile, ["--rate", String(Math.round(saturation.rps / 2)), "--concurrency", "64", "--seconds", String(seconds)]);
    const rssBytes = rssOf(server.pid);
    return { bare: bareResult, bidderSaturation: saturation, bidderHalfRate: half, ratio: saturation.rps / bareResult.rps, serverRssBytes: rssBytes };
  } finally {
    server.kill();
  }
}
