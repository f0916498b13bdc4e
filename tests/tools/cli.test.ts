// The bundled CLI (`node dist/nexus-rtb.mjs`, what `npx nexus-rtb` runs): help for every command,
// errors as one "CODE: message" line without a stack trace, a public key given as a bare
// file name, and SIGHUP reloading the campaigns file.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:net";
import { describe, it } from "node:test";
import { ROOT } from "./helpers.ts";

const BUNDLE = join(ROOT, "dist", "nexus-rtb.mjs");
const cli = (args: string[], cwd = ROOT, env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, [BUNDLE, ...args], { cwd, env: { ...process.env, ...env }, encoding: "utf8", timeout: 60_000 });

/**
 * `serve` as a child process (`env` over this process's): its output so far, its exit
 * ([code, signal]), and waitFor(), which fails when the process exits first or after 60 s.
 */
function startServe(env: NodeJS.ProcessEnv, cwd = ROOT) {
  const child = spawn(process.execPath, [BUNDLE, "serve"], { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const io = { out: "", err: "" };
  child.stdout!.on("data", (d: Buffer) => void (io.out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => void (io.err += d.toString()));
  const exited = new Promise<[number | null, string | null]>((r) => child.once("exit", (code, signal) => r([code, signal])));
  const waitFor = async (what: string, check: () => boolean | Promise<boolean>): Promise<void> => {
    const end = Date.now() + 60_000;
    while (Date.now() < end) {
      if (child.exitCode !== null || child.signalCode !== null) assert.fail(`serve exited (${child.exitCode ?? child.signalCode}) waiting for ${what}\n${io.err}`);
      if (await check()) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.fail(`timed out waiting for ${what}\n${io.err}`);
  };
  return { child, io, exited, waitFor };
}

describe("nexus-rtb CLI", () => {
  it("every command answers --help with its usage, exit 0", () => {
    for (const cmd of ["keygen", "sign", "serve", "train", "replay", "loadgen", "check-campaigns"]) {
      const r = cli([cmd, "--help"]);
      assert.equal(r.status, 0, `${cmd} --help: exit ${r.status}\n${r.stderr}`);
      assert.match(r.stdout, /usage/i, `${cmd} --help prints a usage`);
    }
  });

  it("an unknown flag or a stray argument is a bad command line: the reason and the usage, exit 2, no stack trace", () => {
    for (const args of [["keygen", "--bogus"], ["sign", "--model", "m.nxm", "--key", "k.pem", "extra"], ["serve", "--bogus"]]) {
      const r = cli(args);
      assert.equal(r.status, 2, `${args.join(" ")}: exit ${r.status}\n${r.stderr}`);
      assert.match(r.stderr, /usage: nexus-rtb /, `${args.join(" ")} prints its usage`);
      assert.match(r.stderr, args.includes("extra") ? /unexpected argument "extra"/ : /--bogus/, args.join(" "));
      assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    }
  });

  it("check-campaigns: a set a host would publish is summarised (exit 0, also as JSON); one it would refuse gives the reason (exit 1)", () => {
    const dir = mkdtempSync(join(tmpdir(), "nexus-check-"));
    try {
      const set = JSON.parse(readFileSync(join(ROOT, "tests", "fixtures", "campaigns", "test-campaigns.json"), "utf8"));
      const base = set.campaigns[0];
      set.campaigns = [
        { ...base, frequency_group: "brand", frequency_caps: [{ impressions: 1, seconds: 3600 }, { impressions: 3, seconds: 86400 }], targeting: { ...base.targeting, hours: [9, 10], daypart_time_zone: "America/New_York" } },
        { ...base, id: "paused-one", active: false },
        {
          id: "video-one",
          creatives: [
            { crid: "b", w: 300, h: 250 },
            { crid: "v15", type: "video", duration: 15, mimes: ["video/mp4"], adm: '<VAST version="4.0"></VAST>' },
            { crid: "v30", type: "video", duration: 30, mimes: ["video/mp4"], adm: '<VAST version="3.0"></VAST>' },
            { crid: "a30", type: "audio", duration: 30, mimes: ["audio/mpeg"], adm: '<DAAST version="1.0"></DAAST>' },
            { crid: "n1", type: "native", title: "T", link: "https://a.example/" },
          ],
        },
      ];
      const good = join(dir, "good.json");
      writeFileSync(good, JSON.stringify(set));
      let r = cli(["check-campaigns", "--file", good]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /version 1, 3 campaign\(s\)/);
      assert.match(r.stdout, /test-cpa: active; daily \d+ µ; caps 1 per 3600 s, 3 per 86400 s \(group brand\); dayparting on America\/New_York \(UTC-0[45]:00 now\)/);
      assert.match(r.stdout, /paused-one: paused/);
      assert.match(r.stdout, /video-one: active; creatives: 1 banner, 2 video \(15 s, 30 s\), 1 audio \(30 s\), 1 native$/m);
      r = cli(["check-campaigns", "--file", good, "--json"]);
      assert.equal(r.status, 0);
      const j = JSON.parse(r.stdout);
      assert.equal(j.ok, true);
      assert.deepEqual(j.campaigns[0].frequency_caps, ["1 per 3600 s", "3 per 86400 s"]);
      // A zone no host knows, then a group whose campaigns' caps differ: refused with the reason.
      set.campaigns[0].targeting.daypart_time_zone = "Mars/Olympus_Mons";
      const bad = join(dir, "bad.json");
      writeFileSync(bad, JSON.stringify(set));
      r = cli(["check-campaigns", "--file", bad]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /CAMPAIGNS_INVALID: campaign "test-cpa": targeting.daypart_time_zone: unknown time zone "Mars\/Olympus_Mons"/);
      set.campaigns[0].targeting.daypart_time_zone = "Europe/Paris";
      set.campaigns[1] = { ...set.campaigns[1], frequency_group: "brand", frequency_cap: { impressions: 5, seconds: 60 } };
      writeFileSync(bad, JSON.stringify(set));
      r = cli(["check-campaigns", "--file", bad, "--json"]);
      assert.equal(r.status, 1);
      assert.match(JSON.parse(r.stdout).error, /frequency_group "brand": caps differ from campaign "test-cpa"'s/);
      assert.equal(cli(["check-campaigns"]).status, 2, "no --file: a bad command line");
      // A set that says its currency: refused for a filter in another one (USD by default), as the host would.
      const eur = join(dir, "eur.json");
      writeFileSync(eur, JSON.stringify({ ...JSON.parse(readFileSync(good, "utf8")), currency: "EUR" }));
      r = cli(["check-campaigns", "--file", eur]);
      assert.equal(r.status, 1, r.stdout);
      assert.match(r.stderr, /currency: the campaigns are in EUR, the filter's account currency \(plugin currency\) is USD/);
      assert.equal(cli(["check-campaigns", "--file", eur, "--currency", "EUR"]).status, 0);
      assert.equal(cli(["check-campaigns", "--file", eur, "--currency", "eur"]).status, 2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a refused keygen prints its code once, no stack trace", () => {
    const dir = mkdtempSync(join(tmpdir(), "nexus-cli-"));
    try {
      assert.equal(cli(["keygen", "--out", dir]).status, 0);
      const r = cli(["keygen", "--out", dir]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /^nexus-rtb: KEY_EXISTS: /);
      assert.equal(r.stderr.split("KEY_EXISTS").length - 1, 1, `the code once: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a tool that cannot read its model prints 'error CODE: message', exit 1, no stack trace", () => {
    const r = cli(["replay", "--format", "raw", "--model", "/nonexistent/model.nxm", "--data", join(ROOT, "package.json"), "--split", "0.5"]);
    assert.equal(r.status, 1, `exit ${r.status}\n${r.stderr}`);
    assert.match(r.stderr, /^error [A-Z_]+: /m);
    assert.doesNotMatch(r.stderr, /\n\s+at /, `no stack trace:\n${r.stderr}`);
  });

  it("serve exits 1 with one error line when it cannot start (the bid port is taken): it does not hang", async () => {
    const { createServer } = await import("node:net");
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, "127.0.0.1", r));
    const port = (taken.address() as { port: number }).port;
    try {
      const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [BUNDLE, "serve"], {
          env: { ...process.env, NEXUS_BID_PORT: String(port), NEXUS_CONTROL_PORT: "0", NEXUS_LOG_LEVEL: "fatal" },
          stdio: ["ignore", "ignore", "pipe"],
        });
        let stderr = "";
        child.stderr!.on("data", (d: Buffer) => void (stderr += d.toString()));
        // Before the fix the process stayed up (control server, VMs and watcher still open).
        const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
        child.on("exit", (code) => {
          clearTimeout(timer);
          resolve({ code, stderr });
        });
      });
      assert.equal(r.code, 1, `exit ${r.code}\n${r.stderr}`);
      assert.match(r.stderr, /^nexus-rtb: .*EADDRINUSE/m);
    } finally {
      taken.close();
    }
  });

  it("serve refuses a NEXUS_MODEL_PUBLIC_KEY that is no key at once: exit 1, one KEY_INVALID line (not NOT_READY after the start's timeout)", () => {
    const r = cli(["serve"], ROOT, { NEXUS_MODEL_PUBLIC_KEY: "garbage", NEXUS_BID_PORT: "0", NEXUS_CONTROL_PORT: "0", NEXUS_LOG_LEVEL: "fatal" });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^nexus-rtb: KEY_INVALID: /);
  });

  it("serve takes NEXUS_MODEL_PUBLIC_KEY as a bare file name in its working directory", async () => {
    const dir = mkdtempSync(join(tmpdir(), "nexus-cli-key-"));
    copyFileSync(join(ROOT, "models/demo/demo-public.pem"), join(dir, "public.pem"));
    const { child, io, exited, waitFor } = startServe({ NEXUS_MODEL_PUBLIC_KEY: "public.pem", NEXUS_BID_PORT: "0", NEXUS_CONTROL_PORT: "0", NEXUS_LOG_LEVEL: "warn" }, dir);
    try {
      await waitFor("listening", () => /listening on/.test(io.out));
      assert.doesNotMatch(io.err, /model_refused|KEY_/, io.err);
    } finally {
      child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const mode of ["standalone", "sidecar"]) {
    it(`serve (${mode}) refuses to start on a campaigns file the filter's parser refuses: exit 1, one CAMPAIGNS_INVALID line with its reason`, () => {
      const dir = mkdtempSync(join(tmpdir(), "nexus-cli-bad-campaigns-"));
      try {
        const set = JSON.parse(readFileSync(join(ROOT, "tests/fixtures/campaigns/test-campaigns.json"), "utf8"));
        set.campaigns[0].creatives[0].banner_type = 7; // the host's own checks pass it; the filter's parser does not
        const campaigns = join(dir, "campaigns.json");
        writeFileSync(campaigns, JSON.stringify(set));
        // Another working directory: the bundle finds build/nexus_core.wasm by its own location.
        const r = cli(["serve"], dir, {
          NEXUS_MODE: mode, NEXUS_CAMPAIGNS: campaigns, NEXUS_SYNC_TOKEN: "bad-campaigns-sync-token-0123456789",
          NEXUS_VMS: "1", NEXUS_BID_PORT: "0", NEXUS_CONTROL_PORT: "0", NEXUS_LOG_LEVEL: "fatal",
        });
        assert.equal(r.status, 1, `exit ${r.status}\n${r.stderr}`);
        assert.match(r.stderr, /^nexus-rtb: CAMPAIGNS_INVALID: the filter would refuse this set: campaigns\[0\]\.creatives\[0\]\.banner_type: must be between 1 and 4$/m);
        assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it(`serve (${mode}) reloads the campaigns file on SIGHUP, logs the outcome, and keeps running on the old set when the file is refused`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "nexus-cli-hup-"));
      const campaigns = join(dir, "campaigns.json");
      const set = JSON.parse(readFileSync(join(ROOT, "tests/fixtures/campaigns/test-campaigns.json"), "utf8"));
      writeFileSync(campaigns, JSON.stringify(set));
      const token = "hup-test-admin-token-0123456789";
      const { child, io, exited, waitFor } = startServe({
        NEXUS_MODE: mode, NEXUS_CAMPAIGNS: campaigns, NEXUS_ADMIN_TOKEN: token, NEXUS_SYNC_TOKEN: "hup-test-sync-token-0123456789",
        NEXUS_VMS: "1", NEXUS_BID_PORT: "0", NEXUS_CONTROL_PORT: "0", NEXUS_LOG_LEVEL: "info",
      });
      const logLines = () => io.out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
      try {
        await waitFor("listening", () => /control plane (?:listening )?on http/.test(io.out));
        const controlUrl = /control plane (?:listening )?on (http:\/\/[^\s)]+)/.exec(io.out)![1]!;
        const state = async (): Promise<any> => (await fetch(`${controlUrl}/admin/v1/state`, { headers: { authorization: `Bearer ${token}` } })).json();

        set.version = 2;
        set.campaigns.push({ ...set.campaigns[0], id: "hup-cpa" });
        writeFileSync(campaigns, JSON.stringify(set));
        child.kill("SIGHUP");
        await waitFor("the reload", async () => (await state()).config_version === 2);
        assert.deepEqual((await state()).campaigns.map((c: { id: string }) => c.id), ["test-cpa", "hup-cpa"]);
        const ok = logLines().find((l) => l.event === "campaigns_reloaded");
        assert.equal(ok?.level, 30, "logged at info");
        assert.deepEqual([ok.trigger, ok.version, ok.added, ok.removed], ["sighup", 2, ["hup-cpa"], []]);

        writeFileSync(campaigns, JSON.stringify({ ...set, campaigns: [] })); // version 2 again: refused
        child.kill("SIGHUP");
        await waitFor("the refusal's log line", () => logLines().some((l) => l.event === "campaigns_reload_failed"));
        const refused = logLines().find((l) => l.event === "campaigns_reload_failed");
        assert.equal(refused.level, 50, "logged at error");
        assert.equal(refused.code, "CAMPAIGNS_VERSION_NOT_HIGHER");
        assert.match(refused.err, /version 2 is not higher/);
        const s = await state();
        assert.equal(s.config_version, 2, "still the old set");
        assert.equal(s.campaigns.length, 2);
        assert.equal(child.exitCode, null, "still running");
      } finally {
        child.kill("SIGTERM");
        await exited;
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
  it("serve (standalone): a SIGHUP or a second SIGTERM while it drains on SIGTERM does not kill it: the bid in flight is answered, exit 0", async () => {
    const dir = mkdtempSync(join(tmpdir(), "nexus-cli-hup-stop-"));
    const campaigns = join(dir, "campaigns.json");
    copyFileSync(join(ROOT, "tests/fixtures/campaigns/test-campaigns.json"), campaigns);
    const { child, io, exited, waitFor } = startServe({
      NEXUS_MODE: "standalone", NEXUS_CAMPAIGNS: campaigns, NEXUS_SYNC_TOKEN: "hup-stop-sync-token-0123456789",
      NEXUS_VMS: "1", NEXUS_BID_PORT: "0", NEXUS_CONTROL_PORT: "0", NEXUS_LOG_LEVEL: "info",
    });
    try {
      await waitFor("listening", () => /bidder listening on http:\/\/\S+/.test(io.out));
      const bidUrl = new URL(/bidder listening on (http:\/\/\S+)/.exec(io.out)![1]!);
      // A bid in flight: headers and half of its body sent, the rest after the SIGHUP.
      const body = JSON.stringify({ id: "req-1", imp: [{ id: "1", banner: { w: 300, h: 250 }, bidfloor: 0.5 }], site: { domain: "news.example" } });
      const sock = connect(Number(bidUrl.port), bidUrl.hostname);
      let answer = "";
      sock.on("data", (d: Buffer) => void (answer += d.toString()));
      const closed = new Promise((r) => sock.once("close", r));
      await new Promise((r) => sock.once("connect", r));
      sock.write(`POST /openrtb2/bid HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n` + body.slice(0, 20));
      await new Promise((r) => setTimeout(r, 200));
      child.kill("SIGTERM");
      await waitFor("the drain", () => /"event":"stopping"/.test(io.out));
      child.kill("SIGHUP");
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(child.signalCode, null, "not killed by the SIGHUP");
      // A supervisor that signals the whole process group, or npm start's watcher, can send it again.
      child.kill("SIGTERM");
      await waitFor("the second SIGTERM logged", () => /"event":"signal_ignored"/.test(io.out));
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(child.signalCode, null, "not killed by a second SIGTERM");
      sock.end(body.slice(20));
      await closed;
      assert.match(answer, /^HTTP\/1\.1 20[04] /, `the bid in flight is answered: ${answer}`);
      assert.deepEqual(await exited, [0, null]);
    } finally {
      child.kill("SIGKILL");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("serve (standalone): Ctrl-C twice exits at once (130) while a stalled request holds the drain; twice within half a second is one Ctrl-C", async () => {
    const { child, io, exited, waitFor } = startServe({ NEXUS_MODE: "standalone", NEXUS_VMS: "1", NEXUS_BID_PORT: "0", NEXUS_CONTROL_PORT: "0", NEXUS_LOG_LEVEL: "info" });
    try {
      await waitFor("listening", () => /bidder listening on http:\/\/\S+/.test(io.out));
      const bidUrl = new URL(/bidder listening on (http:\/\/\S+)/.exec(io.out)![1]!);
      const sock = connect(Number(bidUrl.port), bidUrl.hostname);
      sock.on("error", () => {});
      await new Promise((r) => sock.once("connect", r));
      sock.write("POST /openrtb2/bid HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{");
      await new Promise((r) => setTimeout(r, 200));
      child.kill("SIGINT");
      await new Promise((r) => setTimeout(r, 30));
      child.kill("SIGINT"); // within half a second: the same Ctrl-C, delivered twice
      await waitFor("the drain", () => /"event":"stopping"/.test(io.out));
      await waitFor("the duplicate ignored", () => /"event":"signal_ignored","signal":"SIGINT"/.test(io.out));
      await new Promise((r) => setTimeout(r, 600));
      assert.equal(child.exitCode, null, "still draining: the stalled request holds it");
      child.kill("SIGINT");
      assert.deepEqual(await exited, [130, null]);
      assert.match(io.out, /"event":"stop_forced"/);
      sock.destroy();
    } finally {
      child.kill("SIGKILL");
      await exited;
    }
  });

  it("serve (standalone): a SIGTERM while it waits to be ready (its model store is not there) stops it gracefully, exit 0", async () => {
    const { child, io, exited, waitFor } = startServe({
      NEXUS_MODE: "standalone", NEXUS_MODEL_STORE: join(tmpdir(), "nexus-no-such-store"), NEXUS_VMS: "1",
      NEXUS_BID_PORT: "0", NEXUS_CONTROL_PORT: "0", NEXUS_LOG_LEVEL: "info",
    });
    try {
      // Started (its ports listen) but not ready: the model cannot be loaded.
      await waitFor("the model refused", () => /"event":"model_refused"/.test(io.out));
      const t0 = Date.now();
      child.kill("SIGTERM");
      assert.deepEqual(await exited, [0, null], io.err);
      // Not kept up until the 15 s readiness timeout by the wait for a model that will not come.
      assert.ok(Date.now() - t0 < 8000, `exited ${Date.now() - t0} ms after the SIGTERM`);
      assert.match(io.out, /"event":"stopping"/);
      assert.doesNotMatch(io.out, /bidder listening on/, "never announced as ready");
    } finally {
      child.kill("SIGKILL");
      await exited;
    }
  });

  it("serve (sidecar): a SIGHUP during start-up (Redis not answering yet) does not kill it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "nexus-cli-hup-start-"));
    const campaigns = join(dir, "campaigns.json");
    copyFileSync(join(ROOT, "tests/fixtures/campaigns/test-campaigns.json"), campaigns);
    const { child, io, exited } = startServe({
      NEXUS_MODE: "sidecar", NEXUS_CAMPAIGNS: campaigns, NEXUS_SYNC_TOKEN: "hup-start-sync-token-0123456789",
      NEXUS_CONTROL_PORT: "0", NEXUS_LOG_LEVEL: "info",
      // Nothing listens there: start-up waits for it (2 s) before it goes on without grants.
      NEXUS_BUDGET_SOURCE: "redis", NEXUS_REDIS_URL: "redis://127.0.0.1:1",
    });
    try {
      const end = Date.now() + 60_000;
      while (!/"event":"model_loaded"/.test(io.out) && Date.now() < end && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
      assert.match(io.out, /"event":"model_loaded"/, "start-up has loaded the model (the Redis wait follows)");
      assert.doesNotMatch(io.out, /control plane listening/, "still starting");
      child.kill("SIGHUP");
      const end2 = Date.now() + 30_000;
      while (!/control plane listening on http/.test(io.out) && Date.now() < end2 && child.exitCode === null && child.signalCode === null) await new Promise((r) => setTimeout(r, 50));
      assert.equal(child.signalCode, null, "not killed by the SIGHUP");
      assert.match(io.out, /control plane listening on http/);
    } finally {
      child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("serve (sidecar): SIGTERM answers the filter's syncs as paused until a report shows the return, logs budget_returned, exit 0", async () => {
    // The filter is played by this test (Envoy runs it in production): it syncs every 100 ms and
    // applies each answer as the filter's ledger does, granted = max(answer, charged + reserved).
    const { Redis } = await import("ioredis");
    const redisUrl = process.env.NEXUS_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
    const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
    const prefix = `test-cli-return-${process.pid}-${Date.now().toString(36)}`;
    const token = "return-sync-token-0123456789abcdef";
    const dir = mkdtempSync(join(tmpdir(), "nexus-cli-return-"));
    const campaigns = join(dir, "campaigns.json");
    copyFileSync(join(ROOT, "tests/fixtures/campaigns/test-campaigns.json"), campaigns);
    const { child, io, exited, waitFor } = startServe({
      NEXUS_MODE: "sidecar", NEXUS_CAMPAIGNS: campaigns, NEXUS_SYNC_TOKEN: token, NEXUS_CONTROL_PORT: "0", NEXUS_LOG_LEVEL: "info",
      NEXUS_BUDGET_SOURCE: "redis", NEXUS_REDIS_URL: redisUrl, NEXUS_REDIS_PREFIX: prefix, NEXUS_POD_ID: "pod-cli",
    });
    const ledger = { granted: 0, charged: 0, reserved: 0 };
    let stopSyncing = false;
    const sync = async (controlUrl: string) => {
      const campaign = { id: "test-cpa", granted_micros: ledger.granted, charged_micros: ledger.charged, reserved_micros: ledger.reserved, daily_charged_micros: ledger.charged, wins: 0, late_wins: 0, multiplier_ppm: 1_000_000 };
      const r = await fetch(`${controlUrl}/nexus/v1/sync`, {
        method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ vm: 1, config_version: 1, model_loaded: true, ledger_epoch: 7, campaigns: [campaign] }),
      });
      const grant = ((await r.json()) as { grants: Array<{ id: string; granted_micros: number }> }).grants.find((g) => g.id === "test-cpa");
      if (grant) ledger.granted = Math.max(grant.granted_micros, ledger.charged + ledger.reserved);
    };
    try {
      await waitFor("listening", () => /control plane listening on http:\/\/\S+/.test(io.out));
      const controlUrl = /control plane listening on (http:\/\/\S+)/.exec(io.out)![1]!;
      await sync(controlUrl);
      const slice = ledger.granted;
      assert.ok(slice > 150_000, `one slice: ${slice}`);
      ledger.charged = 120_000; // spent
      ledger.reserved = 30_000; // bids waiting for their notices
      await sync(controlUrl);
      const syncing = (async () => {
        while (!stopSyncing) {
          await sync(controlUrl).catch(() => {});
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      child.kill("SIGTERM");
      const [code, signal] = await exited;
      stopSyncing = true;
      await syncing;
      assert.deepEqual([code, signal], [0, null], io.err);
      const line = io.out.split("\n").find((l) => l.includes('"event":"budget_returned"'));
      assert.ok(line, `budget_returned logged:\n${io.out}`);
      const event = JSON.parse(line);
      assert.equal(event.complete, true);
      assert.deepEqual(event.returned_micros, { "test-cpa": slice - 150_000 });
      assert.equal(ledger.granted, 150_000, "the filter's grant went down to charged + reserved");
      const tag = `{nexus:${prefix}:test-cpa}`;
      assert.equal(Number(await redis.hget(`${tag}:pod:pod-cli`, "granted")), 150_000, "Redis counts charged + reserved for the pod");
      assert.equal(Number(await redis.hget(`${tag}:campaign`, "granted")), 150_000);
    } finally {
      stopSyncing = true;
      child.kill("SIGKILL");
      await exited;
      const keys = await redis.keys(`{nexus:${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
