// A real S3-compatible server for tests: s3rver (npm) in a CHILD node process,
// listening on a free loopback port with its data in a temp directory. Not an
// in-process mock: the code under test talks HTTP to another process.
//
// The child prints its address as one JSON line once s3rver's run() resolved
// (s3rver 3.7: run() resolves to httpServer.address()). It exits when its
// stdin closes, so a crashed test process never leaves it behind.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, DeleteObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";

/** Dummy credentials (s3rver's defaults); the server also allows mismatched signatures. */
export const S3_TEST_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;

export interface TestS3Server {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  port: number;
  dir: string;
  child: ChildProcess;
  /** A client for the test itself (path-style, dummy credentials, no checksum trailers). */
  client: S3Client;
  createBucket(bucket: string): Promise<void>;
  put(bucket: string, key: string, body: Uint8Array | string): Promise<void>;
  del(bucket: string, key: string): Promise<void>;
  close(): Promise<void>;
}

const CHILD_SCRIPT = `
const S3rver = require(process.argv[1]);
const server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory: process.argv[2], allowMismatchedSignatures: true });
server.run().then((addr) => {
  process.stdout.write(JSON.stringify({ port: addr.port, address: addr.address }) + "\\n");
}, (err) => { process.stderr.write(String(err && err.stack || err) + "\\n"); process.exit(1); });
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
process.on("SIGTERM", () => server.close(() => process.exit(0)));
`;

export async function startS3Server(timeoutMs = 15_000): Promise<TestS3Server> {
  const require = createRequire(import.meta.url);
  const s3rverMain = require.resolve("s3rver");
  const dir = mkdtempSync(join(tmpdir(), "nexus-s3rver-"));
  const child = spawn(process.execPath, ["-e", CHILD_SCRIPT, s3rverMain, dir], { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => fail(new Error(`s3rver did not start within ${timeoutMs} ms: ${stderr}`)), timeoutMs);
    const fail = (err: Error) => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(err);
    };
    child.once("exit", (code) => fail(new Error(`s3rver exited (${code}) before listening: ${stderr}`)));
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf("\n");
      if (nl < 0) return;
      clearTimeout(timer);
      child.removeAllListeners("exit");
      try {
        resolve((JSON.parse(out.slice(0, nl)) as { port: number }).port);
      } catch (err) {
        fail(err as Error);
      }
    });
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: S3_TEST_CREDENTIALS,
    // s3rver does not understand aws-chunked uploads with checksum trailers.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  return {
    endpoint,
    port,
    dir,
    child,
    client,
    async createBucket(bucket) {
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
    },
    async put(bucket, key, body) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: typeof body === "string" ? Buffer.from(body) : body }));
    },
    async del(bucket, key) {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    },
    async close() {
      client.destroy();
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((r) => child.once("exit", () => r()));
        child.stdin!.end();
        child.kill("SIGTERM");
        const t = setTimeout(() => child.kill("SIGKILL"), 3000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
