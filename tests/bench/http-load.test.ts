// The HTTP bench's load generator (bench/http-load.ts) speaks HTTP/1.1 itself:
// these tests check that it frames and counts answers right against a real
// node:http server (bodies of every size, 204 no-bids with their reason, ids
// stamped fresh per request), in closed and open loop, and that an answer it
// cannot frame is an error, not a silent success.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";

const LOAD = new URL("../../bench/http-load.ts", import.meta.url).pathname;

function runLoad(url: string, bodies: string, args: string[]): Promise<any> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", LOAD, "--url", url, "--bodies", bodies, ...args], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.on("exit", (code) => (code === 0 ? resolve(JSON.parse(out.trim().split("\n").pop()!)) : reject(new Error(`exit ${code}`))));
  });
}

describe("bench load generator", () => {
  let server: Server;
  let url: string;
  let dir: string;
  let bodies: string;
  const seenIds = new Set<string>();
  let duplicateIds = 0;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "nexus-load-"));
    bodies = join(dir, "bodies.json");
    // Two templates with an id to stamp, one without.
    writeFileSync(bodies, JSON.stringify([['{"id":"a-', '","imp":[]}'], ['{"id":"b-', '","n":1}'], ['{"plain":true}', null]]));
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = JSON.parse(Buffer.concat(chunks).toString()) as { id?: string; plain?: boolean };
        if (body.id !== undefined) {
          if (seenIds.has(body.id)) duplicateIds++;
          seenIds.add(body.id);
        }
        if (req.url === "/chunked") {
          res.writeHead(200, { "content-type": "text/plain" }); // no content-length: chunked
          res.end("x");
        } else if (body.plain) {
          res.writeHead(204, { "X-Nexus-Nobid-Reason": "no_match" });
          res.end();
        } else {
          const big = "y".repeat(body.id!.startsWith("a-") ? 70_000 : 10); // answers across several TCP reads
          res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(big) });
          res.end(big);
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  // Ids are unique within a run (each run here starts at --id-base 0).
  const freshIds = () => {
    seenIds.clear();
    duplicateIds = 0;
  };

  it("closed loop: every answer counted once, 204 reasons read, ids never repeated", async () => {
    freshIds();
    const r = await runLoad(`${url}/bid`, bodies, ["--concurrency", "4", "--seconds", "1", "--warmup", "0"]);
    assert.equal(r.errors, 0);
    assert.ok(r.requests > 30, `only ${r.requests} answers`);
    assert.equal(r.statuses["200"] + r.statuses["204"], r.requests);
    assert.equal(r.nobid.no_match, r.statuses["204"]);
    // One template in three has no id: roughly a third of the answers are 204.
    assert.ok(Math.abs(r.statuses["204"] / r.requests - 1 / 3) < 0.05, JSON.stringify(r.statuses));
    assert.equal(r.answered, r.requests, "no warm-up: every answer is recorded");
    assert.ok(r.p50 > 0 && r.p50 <= r.p99 && r.p99 <= r.max);
    assert.equal(duplicateIds, 0);
  });

  it("open loop: sends the rate it was asked for, no more", async () => {
    freshIds();
    const r = await runLoad(`${url}/bid`, bodies, ["--rate", "200", "--concurrency", "8", "--seconds", "1", "--warmup", "0"]);
    assert.equal(r.errors, 0);
    assert.equal(r.requests, 200);
    assert.equal(r.statuses["200"] + r.statuses["204"], 200);
    assert.ok(r.sendLagP99 >= 0);
    assert.equal(duplicateIds, 0);
  });

  it("an answer without Content-Length framing is an error", async () => {
    const r = await runLoad(`${url}/chunked`, bodies, ["--rate", "20", "--concurrency", "2", "--seconds", "1", "--warmup", "0"]);
    assert.ok(r.errors > 0);
    assert.equal(r.statuses["200"] ?? 0, 0);
  });
});
