// Unit tests of the two model stores against the same contract: the "current
// model" rule, sidecars, change tokens, size limits, refused extensions and
// store errors. The S3 store talks to a real s3rver child process.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { S3Client } from "@aws-sdk/client-s3";
import {
  DirectoryModelStore,
  ModelStoreError,
  S3ModelStore,
  createModelStore,
  parseS3Url,
  probeKey,
  toModelSource,
  type ModelStore,
} from "../../../host/src/models/stores/index.ts";
import { loadModelFromBytes, type ModelError } from "../../../host/src/models/index.ts";
import { startS3Server, S3_TEST_CREDENTIALS, type TestS3Server } from "../../helpers/s3-server.ts";
import { dirPublisher, newKeys, s3Publisher, signed, testModel, type Publisher } from "./helpers.ts";
import { encodeNxm } from "../../../host/src/models/index.ts";

process.env.AWS_ACCESS_KEY_ID = S3_TEST_CREDENTIALS.accessKeyId;
process.env.AWS_SECRET_ACCESS_KEY = S3_TEST_CREDENTIALS.secretAccessKey;
process.env.AWS_REGION = "us-east-1";
process.env.AWS_EC2_METADATA_DISABLED = "true";
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const keys = newKeys();
const small = signed("m.nxm", encodeNxm(testModel(0.002, 10)), keys);

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as ModelError | ModelStoreError).code;
  }
  return "(resolved)";
}

interface Harness {
  pub: Publisher;
  store(defaultFile: string, opts?: { maxModelBytes?: number }): ModelStore;
  /** Requests the store made for these names since the last reset (S3 only; the directory store reports none). */
  requests(): Array<{ command: string; key: string }>;
  resetRequests(): void;
  cleanup(): Promise<void>;
}

let s3: TestS3Server;
let s3Buckets = 0;
before(async () => {
  s3 = await startS3Server();
});
after(async () => {
  await s3?.close();
});

async function dirHarness(): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), "nexus-store-"));
  return {
    pub: dirPublisher(dir),
    store: (defaultFile, opts = {}) => new DirectoryModelStore({ dir, defaultFile, ...opts }),
    requests: () => [],
    resetRequests: () => {},
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

async function s3Harness(): Promise<Harness> {
  const bucket = `store-unit-${++s3Buckets}`;
  await s3.createBucket(bucket);
  const seen: Array<{ command: string; key: string }> = [];
  const stores: S3ModelStore[] = [];
  return {
    pub: s3Publisher(s3, bucket, "models/prod"),
    store: (defaultFile, opts = {}) => {
      const st = new S3ModelStore({ url: `s3://${bucket}/models/prod/`, defaultFile, endpoint: s3.endpoint, ...opts });
      st.client.middlewareStack.add(
        (next, context) => async (args) => {
          seen.push({ command: String(context.commandName), key: (args.input as { Key?: string }).Key ?? "" });
          return next(args);
        },
        { step: "initialize", name: "testRecorder" },
      );
      stores.push(st);
      return st;
    },
    requests: () => seen,
    resetRequests: () => void seen.splice(0),
    cleanup: async () => stores.forEach((s) => s.close()),
  };
}

for (const [label, make] of [
  ["directory store", dirHarness],
  ["S3 store", s3Harness],
] as const) {
  describe(label, () => {
    let h: Harness;
    before(async () => {
      h = await make();
    });
    after(async () => {
      await h?.cleanup();
    });

    it("current: the configured file when there is no CURRENT pointer", async () => {
      assert.deepEqual(await h.store("m.nxm").current(), { name: "m.nxm", via: "default" });
      assert.equal(await code(h.store("").current()), "STORE_NO_CURRENT_MODEL");
    });

    it("current: the CURRENT pointer wins over the configured file", async () => {
      await h.pub.put("CURRENT", "  v2/next.npz \n");
      assert.deepEqual(await h.store("m.nxm").current(), { name: "v2/next.npz", via: "pointer" });
      await h.pub.put("CURRENT", "m.nxm");
      assert.deepEqual(await h.store("").current(), { name: "m.nxm", via: "pointer" });
    });

    it("current: a malformed pointer is refused, never replaced by the configured file", async () => {
      for (const bad of ["", "\n", "../escape.nxm", "/abs.nxm", "a//b.nxm", "a\nb.nxm", "a\\b.nxm", "CURRENT", "x".repeat(1100)]) {
        await h.pub.put("CURRENT", bad);
        assert.equal(await code(h.store("m.nxm").current()), "STORE_POINTER_INVALID", JSON.stringify(bad.slice(0, 20)));
      }
      await h.pub.del("CURRENT");
    });

    it("probe: tokens of the model and sidecars; null when absent; stable until something changes", async () => {
      const st = h.store("m.nxm");
      assert.deepEqual(await st.probe("m.nxm"), { name: "m.nxm", model: null, digest: null, signature: null });
      await h.pub.put("m.nxm", small.bytes);
      await h.pub.put("m.nxm.sha256", small.digestText);
      await h.pub.put("m.nxm.sig", small.sig);
      const p1 = await st.probe("m.nxm");
      assert.ok(p1.model && p1.signature);
      assert.equal(Buffer.from(p1.digest!, "base64").toString(), small.digestText, "the digest token is the .sha256 content");
      assert.equal(probeKey(await st.probe("m.nxm")), probeKey(p1), "stable");
      // Another version under the same name: every token moves.
      const other = signed("m.nxm", encodeNxm(testModel(0.004, 10)), keys);
      await h.pub.put("m.nxm", other.bytes);
      await h.pub.put("m.nxm.sha256", other.digestText);
      await h.pub.put("m.nxm.sig", other.sig);
      const p2 = await st.probe("m.nxm");
      assert.notEqual(p2.model, p1.model);
      assert.notEqual(p2.digest, p1.digest);
      assert.notEqual(p2.signature, p1.signature);
      // Back to the first version for the next tests.
      await h.pub.put("m.nxm", small.bytes);
      await h.pub.put("m.nxm.sha256", small.digestText);
      await h.pub.put("m.nxm.sig", small.sig);
    });

    it("fetch: the model and both sidecars, loadable; the tokens of what was read", async () => {
      const st = h.store("m.nxm");
      const f = await st.fetch("m.nxm");
      assert.deepEqual(f.modelBytes, small.bytes);
      assert.equal(Buffer.from(f.digestText!).toString(), small.digestText);
      assert.deepEqual(f.signatureBytes, small.sig);
      assert.equal(probeKey(f.probe), probeKey(await st.probe("m.nxm")));
      const loaded = loadModelFromBytes(toModelSource("m.nxm", { ...f, modelBytes: f.modelBytes! }), { publicKey: keys.publicKeyPem, allowUnsigned: false });
      assert.equal(loaded.version, small.version);
      assert.equal(loaded.signed, true);
    });

    it("fetch: missing model or sidecars are undefined (the loader refuses them)", async () => {
      const st = h.store("");
      await h.pub.put("only-sidecars.nxm.sha256", small.digestText);
      const a = await st.fetch("only-sidecars.nxm");
      assert.equal(a.modelBytes, undefined);
      assert.ok(a.digestText);
      assert.equal(a.signatureBytes, undefined);
      await h.pub.put("bare.nxm", small.bytes);
      const b = await st.fetch("bare.nxm");
      assert.deepEqual(b.modelBytes, small.bytes);
      assert.equal(b.digestText, undefined);
      assert.equal(b.signatureBytes, undefined);
      assert.equal(await code(Promise.resolve().then(() => loadModelFromBytes({ fileName: "bare.nxm", modelBytes: b.modelBytes! }, { publicKey: keys.publicKeyPem, allowUnsigned: false }))), "DIGEST_MISSING");
    });

    it("size limits: a model above maxModelBytes is refused before it is downloaded", async () => {
      const st = h.store("", { maxModelBytes: small.bytes.length - 1 });
      h.resetRequests();
      assert.equal(await code(st.fetch("m.nxm")), "MODEL_TOO_LARGE");
      assert.ok(!h.requests().some((r) => r.command === "GetObjectCommand" && r.key.endsWith("/m.nxm")), JSON.stringify(h.requests()));
      const ok = h.store("", { maxModelBytes: small.bytes.length });
      assert.deepEqual((await ok.fetch("m.nxm")).modelBytes, small.bytes);
    });

    it("size limits: sidecars are read up to one byte past their limit (their parsers then refuse them)", async () => {
      await h.pub.put("big.nxm", small.bytes);
      await h.pub.put("big.nxm.sha256", "a".repeat(10_000));
      await h.pub.put("big.nxm.sig", new Uint8Array(10_000));
      const f = await h.store("").fetch("big.nxm");
      assert.equal(f.digestText!.length, 4097);
      assert.equal(f.signatureBytes!.length, 4097);
      assert.equal(await code(Promise.resolve().then(() => loadModelFromBytes(toModelSource("big.nxm", { ...f, modelBytes: f.modelBytes! }), { publicKey: keys.publicKeyPem, allowUnsigned: false }))), "DIGEST_MALFORMED");
    });

    it("refuses .pkl and unknown extensions before any request for them", async () => {
      await h.pub.put("model.pkl", "pickle");
      const st = h.store("");
      for (const name of ["model.pkl", "model.PICKLE", "model.joblib", "model.onnx", "model"]) {
        h.resetRequests();
        assert.equal(await code(st.probe(name)), "MODEL_FORMAT_REFUSED", name);
        assert.equal(await code(st.fetch(name)), "MODEL_FORMAT_REFUSED", name);
        assert.deepEqual(h.requests(), [], `no request for ${name}`);
      }
      assert.equal(await code(st.fetch("../m.nxm")), "STORE_POINTER_INVALID");
    });
  });
}

describe("S3 store specifics", () => {
  it("parses s3://bucket/prefix", () => {
    assert.deepEqual(parseS3Url("s3://models"), { bucket: "models", prefix: "" });
    assert.deepEqual(parseS3Url("s3://models/"), { bucket: "models", prefix: "" });
    assert.deepEqual(parseS3Url("s3://models/a/b/"), { bucket: "models", prefix: "a/b" });
    for (const bad of ["s3://", "s3:///x", "s3://UPPER/x", "s3://a/../b", "s3://ab/x//y", "http://a/b"]) {
      assert.throws(() => parseS3Url(bad), (e: ModelStoreError) => e.code === "STORE_CONFIG_INVALID", bad);
    }
  });

  it("createModelStore picks the store from cfg.model.store", () => {
    const a = createModelStore({ store: "s3://bkt/p", file: "m.nxm", s3Endpoint: "http://127.0.0.1:1" });
    assert.ok(a instanceof S3ModelStore);
    assert.equal(a.describe("m.nxm"), "s3://bkt/p/m.nxm");
    a.close();
    const b = createModelStore({ store: "/var/models", file: "m.nxm", s3Endpoint: "" });
    assert.ok(b instanceof DirectoryModelStore);
    assert.equal(b.describe("m.nxm"), "/var/models/m.nxm");
  });

  it("store errors have stable codes: missing bucket, bad credentials, unreachable endpoint", async () => {
    const missing = new S3ModelStore({ url: "s3://no-such-bucket/p", defaultFile: "m.nxm", endpoint: s3.endpoint });
    assert.equal(await code(missing.current()), "STORE_BUCKET_NOT_FOUND");
    missing.close();

    await s3.createBucket("creds-test");
    const client = new S3Client({ endpoint: s3.endpoint, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: "WRONG", secretAccessKey: "WRONG" } });
    const denied = new S3ModelStore({ url: "s3://creds-test/p", defaultFile: "m.nxm", client });
    assert.equal(await code(denied.current()), "STORE_ACCESS_DENIED");
    client.destroy();

    const down = new S3ModelStore({ url: "s3://creds-test/p", defaultFile: "m.nxm", endpoint: "http://127.0.0.1:9", requestTimeoutMs: 2000 });
    assert.equal(await code(down.current()), "STORE_UNAVAILABLE");
    down.close();
  });

  it("an aborted signal stops a request", async () => {
    const st = new S3ModelStore({ url: "s3://creds-test/p", defaultFile: "m.nxm", endpoint: s3.endpoint });
    const ac = new AbortController();
    ac.abort();
    assert.equal(await code(st.current(ac.signal)), "STORE_UNAVAILABLE");
    st.close();
  });
});

/** A bare HTTP server standing in for S3: `answer` handles every request (path-style: /bucket/key). */
async function fakeS3(answer: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ endpoint: string; close(): Promise<void> }> {
  const server = createServer(answer);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe("S3 store against a misbehaving server", () => {
  // An audit: a body sent a byte every 2 s held the poll (and a rollback) for the 300 s limit.
  it("a model download that trickles is cut once it is slower than the floor, as STORE_UNAVAILABLE", async () => {
    const timers: NodeJS.Timeout[] = [];
    const srv = await fakeS3((req, res) => {
      const key = decodeURIComponent(new URL(req.url!, "http://x").pathname).split("/").slice(2).join("/");
      if (key !== "p/m.nxm") {
        res.writeHead(404, { "content-type": "application/xml" }).end("<Error><Code>NoSuchKey</Code><Message>none</Message></Error>");
        return;
      }
      res.writeHead(200, { "content-length": "100000", etag: '"e1"', "content-type": "application/octet-stream" });
      if (req.method === "HEAD") return void res.end();
      timers.push(setInterval(() => res.write(Buffer.alloc(10)), 50));
    });
    const st = new S3ModelStore({ url: "s3://slow/p", defaultFile: "m.nxm", endpoint: srv.endpoint, minDownloadBytesPerSecond: 10_000, downloadGraceMs: 400 });
    const t0 = performance.now();
    await assert.rejects(st.fetch("m.nxm"), (e: ModelStoreError) => e.code === "STORE_UNAVAILABLE" && /download too slow/.test(e.message));
    const tookMs = performance.now() - t0;
    assert.ok(tookMs < 10_000, `cut after ${Math.round(tookMs)} ms`);
    timers.forEach(clearInterval);
    st.close();
    await srv.close();
  });

  // A bucket in another region answers 301 (a HEAD without a body): it read as an outage.
  it("S3's redirect (bucket in another region, wrong endpoint) is a configuration error that says so, not followed", async () => {
    const srv = await fakeS3((req, res) => {
      res.writeHead(301, { "content-type": "application/xml", location: "http://169.254.169.254/" });
      res.end(req.method === "HEAD" ? undefined : "<Error><Code>PermanentRedirect</Code><Message>use the right endpoint</Message></Error>");
    });
    const st = new S3ModelStore({ url: "s3://far/p", defaultFile: "m.nxm", endpoint: srv.endpoint });
    await assert.rejects(st.current(), (e: ModelStoreError) => e.code === "STORE_CONFIG_INVALID" && /another region/.test(e.message));
    await assert.rejects(st.fetch("m.nxm"), (e: ModelStoreError) => e.code === "STORE_CONFIG_INVALID" && /another region/.test(e.message));
    st.close();
    await srv.close();
  });
});

describe("directory store specifics", () => {
  it("a missing directory is STORE_BUCKET_NOT_FOUND", async () => {
    const st = new DirectoryModelStore({ dir: join(tmpdir(), "nexus-no-such-dir-" + process.pid), defaultFile: "m.nxm" });
    assert.equal(await code(st.current()), "STORE_BUCKET_NOT_FOUND");
  });
});
