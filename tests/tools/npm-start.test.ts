// `npm start` as a supervisor runs it: after SIGTERM to npm, the server must drain and stop.
// npm signals the `sh -c` it runs scripts in, which dies without passing the signal on: with
// "ensure && node dist/nexus-rtb.mjs serve" the server ran on without a parent, still listening
// (scripts/start.mjs now stops it when its parent goes).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, describe, it } from "node:test";
import { request } from "undici";
import { ROOT } from "./helpers.ts";
import { README_REQUEST } from "../helpers/bidder.ts";


/** npm itself (the one running this suite when there is one), so that the signal goes to npm. */
function npmCommand(): [string, string[]] {
  const cli = process.env.npm_execpath;
  return cli !== undefined && cli.endsWith(".js") ? [process.execPath, [cli, "start"]] : ["npm", ["start"]];
}

const refused = async (url: string): Promise<boolean> => {
  try {
    const r = await request(`${url}/openrtb2/bid`, { method: "POST", body: README_REQUEST, headers: { "content-type": "application/json" } });
    await r.body.dump();
    return false;
  } catch (err) {
    return (err as { code?: string }).code === "ECONNREFUSED";
  }
};

describe("npm start under a supervisor", () => {
  let group = 0;
  after(() => {
    // Whatever happened, nothing of this npm start may outlive the test (the whole process group).
    if (group !== 0) {
      try {
        process.kill(-group, "SIGKILL");
      } catch {
        // already gone
      }
    }
  });

  it("SIGTERM to npm stops the server gracefully: it drains and its port is closed", { timeout: 120_000 }, async () => {
    const [cmd, args] = npmCommand();
    const npm = spawn(cmd, args, {
      cwd: ROOT,
      // Its own process group, so that the cleanup above can reach an orphaned server too.
      detached: true,
      env: { ...process.env, NEXUS_BID_PORT: "0", NEXUS_CONTROL_PORT: "0", NEXUS_LOG_LEVEL: "info" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    group = npm.pid!;
    let out = "";
    npm.stdout!.on("data", (d: Buffer) => void (out += d.toString()));
    npm.stderr!.on("data", (d: Buffer) => void (out += d.toString()));
    const exited = new Promise<string>((resolve) => npm.once("exit", (code, signal) => resolve(String(code ?? signal))));
    const bidUrl = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`npm start: not listening after 90 s\n${out}`)), 90_000);
      const check = () => {
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      };
      npm.stdout!.on("data", check);
      void exited.then((code) => reject(new Error(`npm start exited (${code}) before listening\n${out}`)));
    });
    const r = await request(`${bidUrl}/openrtb2/bid`, { method: "POST", body: README_REQUEST, headers: { "content-type": "application/json" } });
    assert.equal(r.statusCode, 200, "the README's bid request gets a bid");
    await r.body.dump();
    // The README's video impression gets the demo campaign's VAST creative.
    const video = JSON.stringify({
      ...JSON.parse(README_REQUEST),
      id: "req-v1",
      imp: [{ id: "1", video: { mimes: ["video/mp4"], minduration: 5, maxduration: 30, protocols: [2, 3, 7] }, bidfloor: 0.5 }],
    });
    const v = await request(`${bidUrl}/openrtb2/bid`, { method: "POST", body: video, headers: { "content-type": "application/json" } });
    assert.equal(v.statusCode, 200, "the README's video impression gets a bid");
    const vbid = ((await v.body.json()) as { seatbid: Array<{ bid: Array<{ mtype: number; dur: number; protocol: number; adm: string }> }> }).seatbid[0]!.bid[0]!;
    assert.deepEqual([vbid.mtype, vbid.dur, vbid.protocol], [2, 15, 7]);
    assert.match(vbid.adm, /^<VAST version="4.0">/);
    // The README's native impression gets the demo's native ad, answering its two assets.
    const nativeDoc = '{"ver":"1.2","assets":[{"id":1,"required":1,"title":{"len":90}},{"id":2,"required":1,"img":{"type":3,"wmin":600,"hmin":300}}]}';
    const native = JSON.stringify({ ...JSON.parse(README_REQUEST), id: "req-n1", imp: [{ id: "1", native: { request: nativeDoc }, bidfloor: 0.5 }] });
    const n = await request(`${bidUrl}/openrtb2/bid`, { method: "POST", body: native, headers: { "content-type": "application/json" } });
    assert.equal(n.statusCode, 200, "the README's native impression gets a bid");
    const nbid = ((await n.body.json()) as { seatbid: Array<{ bid: Array<{ mtype: number; adm: string }> }> }).seatbid[0]!.bid[0]!;
    assert.equal(nbid.mtype, 4);
    assert.deepEqual((JSON.parse(nbid.adm) as { assets: Array<{ id: number }> }).assets.map((a) => a.id), [1, 2]);
    // The demo's in-memory budget says what a restart does to it: in the banner and in the log.
    assert.match(out, /Budget: in this process only \(demo\): a restart resets spend and caps/);
    assert.match(out, /"event":"budget_in_memory"/);

    npm.kill("SIGTERM");
    const ended = await Promise.race([exited, new Promise<string>((resolve) => setTimeout(() => resolve("still running"), 30_000))]);
    assert.notEqual(ended, "still running", `npm start ends\n${out}`);
    // npm's output pipe is the server's too: the server's own lines still arrive after npm ended.
    let closed = false;
    for (let i = 0; i < 100 && !closed; i++) {
      await new Promise((res) => setTimeout(res, 100));
      closed = await refused(bidUrl);
    }
    assert.match(out, /shutting down: answering the requests in flight/, "the server drained");
    assert.ok(closed, `nothing listens on ${bidUrl} any more (no orphaned server)`);
  });
});
