// A model store on S3 or an S3-compatible server: s3://bucket/prefix.
// Objects: <prefix>/CURRENT (the pointer), <prefix>/<name>, <name>.sha256, <name>.sig.
// Credentials come from the AWS SDK's default chain (AWS_ACCESS_KEY_ID /
// AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, profiles, web identity, instance
// roles); the region from AWS_REGION / AWS_DEFAULT_REGION, else us-east-1. With a
// custom endpoint (MinIO, Ceph, s3rver, ...) path-style addressing is used.
import type { S3Client, GetObjectCommandOutput } from "@aws-sdk/client-s3";
import { loadS3Sdk } from "../../lazy-deps.ts";
import type { Readable } from "node:stream";
import { DEFAULT_MAX_MODEL_BYTES, formatFromFileName } from "../load.ts";
import { ModelLoadError } from "../errors.ts";
import {
  CURRENT_POINTER,
  DIGEST_READ_LIMIT,
  MAX_POINTER_BYTES,
  ModelStoreError,
  SIGNATURE_READ_LIMIT,
  digestToken,
  resolveCurrent,
  validateModelName,
  type CurrentModel,
  type FetchedModel,
  type ModelProbe,
  type ModelStore,
} from "./types.ts";

export interface S3Location {
  bucket: string;
  /** Key prefix without leading/trailing "/" ("" = bucket root). */
  prefix: string;
}

/** Parses "s3://bucket/prefix" (prefix optional). Throws STORE_CONFIG_INVALID. */
export function parseS3Url(url: string): S3Location {
  const m = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(url);
  if (!m) throw new ModelStoreError("STORE_CONFIG_INVALID", `model store ${JSON.stringify(url)}: expected s3://bucket/prefix`);
  const bucket = m[1]!;
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw new ModelStoreError("STORE_CONFIG_INVALID", `model store ${JSON.stringify(url)}: invalid bucket name`);
  const prefix = (m[2] ?? "").replace(/^\/+|\/+$/g, "");
  if (prefix.split("/").some((s) => s === "." || s === "..") || /\/\//.test(prefix)) {
    throw new ModelStoreError("STORE_CONFIG_INVALID", `model store ${JSON.stringify(url)}: invalid prefix`);
  }
  return { bucket, prefix };
}

export interface S3ModelStoreOptions {
  /** s3://bucket/prefix */
  url: string;
  /** Model file name used when there is no CURRENT object ("" = none). */
  defaultFile: string;
  /** S3-compatible endpoint (e.g. http://127.0.0.1:9000); "" = AWS. Path-style addressing when set. */
  endpoint?: string;
  /** Default: AWS_REGION, AWS_DEFAULT_REGION, else "us-east-1". */
  region?: string;
  /** Default DEFAULT_MAX_MODEL_BYTES. */
  maxModelBytes?: number;
  /** Limit for one small request (pointer, sidecars, HEAD). Default 5 s. */
  requestTimeoutMs?: number;
  /** Limit for the model download. Default 300 s. */
  downloadTimeoutMs?: number;
  /**
   * A model download slower than this on average (bytes/s), once downloadGraceMs have passed, is
   * cut (STORE_UNAVAILABLE) and tried again at the next poll: a server that trickles the body
   * would otherwise hold every poll (a rollback too) for downloadTimeoutMs. Default 32 KiB/s: far
   * below any link that can serve a model (a 5 MiB model at 32 KiB/s takes 160 s).
   */
  minDownloadBytesPerSecond?: number;
  /** Default 10 s. */
  downloadGraceMs?: number;
  /** A preconfigured client (tests); the store does not destroy it. */
  client?: S3Client;
}

interface Got {
  bytes: Uint8Array;
  tag: string;
}

export class S3ModelStore implements ModelStore {
  readonly location: string;
  readonly client: S3Client;
  private readonly loc: S3Location;
  private readonly ownsClient: boolean;
  private readonly maxModelBytes: number;
  private readonly requestTimeoutMs: number;
  private readonly downloadTimeoutMs: number;
  private readonly minDownloadBytesPerSecond: number;
  private readonly downloadGraceMs: number;

  constructor(private readonly opts: S3ModelStoreOptions) {
    this.loc = parseS3Url(opts.url);
    this.location = `s3://${this.loc.bucket}${this.loc.prefix ? "/" + this.loc.prefix : ""}`;
    this.maxModelBytes = opts.maxModelBytes ?? DEFAULT_MAX_MODEL_BYTES;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 5_000;
    this.downloadTimeoutMs = opts.downloadTimeoutMs ?? 300_000;
    this.minDownloadBytesPerSecond = opts.minDownloadBytesPerSecond ?? 32 * 1024;
    this.downloadGraceMs = opts.downloadGraceMs ?? 10_000;
    this.ownsClient = !opts.client;
    this.client =
      opts.client ??
      new (loadS3Sdk().S3Client)({
        region: opts.region || process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || "us-east-1",
        ...(opts.endpoint ? { endpoint: opts.endpoint, forcePathStyle: true } : {}),
        // The store only reads; no checksum trailers on requests (S3-compatible servers differ).
        requestChecksumCalculation: "WHEN_REQUIRED",
        maxAttempts: 2,
        requestHandler: { connectionTimeout: 5000, socketTimeout: 30_000 },
      });
  }

  describe(name: string): string {
    return `${this.location}/${name}`;
  }

  async current(signal?: AbortSignal): Promise<CurrentModel> {
    const pointer = await this.get(CURRENT_POINTER, MAX_POINTER_BYTES + 1, "truncate", signal);
    return resolveCurrent(pointer?.bytes, this.opts.defaultFile);
  }

  async probe(name: string, signal?: AbortSignal): Promise<ModelProbe> {
    this.checkName(name);
    const [model, digest, signature] = await Promise.all([
      this.head(name, signal),
      this.get(`${name}.sha256`, DIGEST_READ_LIMIT, "truncate", signal),
      this.head(`${name}.sig`, signal),
    ]);
    return { name, model: model?.tag ?? null, digest: digestToken(digest?.bytes), signature: signature?.tag ?? null };
  }

  async fetch(name: string, signal?: AbortSignal, maxBytes = Infinity): Promise<FetchedModel> {
    this.checkName(name);
    const limit = Math.min(this.maxModelBytes, maxBytes);
    // The model's size first (an oversized model is refused without downloading it), with the sidecars.
    const [head, digest, signature] = await Promise.all([
      this.head(name, signal),
      this.get(`${name}.sha256`, DIGEST_READ_LIMIT, "truncate", signal),
      this.get(`${name}.sig`, SIGNATURE_READ_LIMIT, "truncate", signal),
    ]);
    if (head && head.size > limit) throw new ModelLoadError("MODEL_TOO_LARGE", `${this.describe(name)}: ${head.size} bytes (limit ${limit})`);
    const model = head ? await this.get(name, limit, "refuse", signal) : undefined;
    return {
      modelBytes: model?.bytes,
      digestText: digest?.bytes,
      signatureBytes: signature?.bytes,
      probe: { name, model: model?.tag ?? null, digest: digestToken(digest?.bytes), signature: signature?.tag ?? null },
    };
  }

  close(): void {
    if (this.ownsClient) this.client.destroy();
  }

  private checkName(name: string): void {
    validateModelName(name);
    formatFromFileName(name); // .pkl & unknown: refused before any request for the model
  }

  private key(name: string): string {
    return this.loc.prefix ? `${this.loc.prefix}/${name}` : name;
  }

  private signal(outer: AbortSignal | undefined, ms: number): AbortSignal {
    const t = AbortSignal.timeout(ms);
    return outer ? AbortSignal.any([outer, t]) : t;
  }

  /** HEAD: the object's tag (ETag) and size; undefined when absent. */
  private async head(name: string, outer?: AbortSignal): Promise<{ tag: string; size: number } | undefined> {
    const key = this.key(name);
    try {
      const r = await this.client.send(new (loadS3Sdk().HeadObjectCommand)({ Bucket: this.loc.bucket, Key: key }), { abortSignal: this.signal(outer, this.requestTimeoutMs) });
      return { tag: r.ETag ?? `${r.ContentLength}:${r.LastModified?.getTime()}`, size: r.ContentLength ?? 0 };
    } catch (err) {
      if (isMissing(err, true)) return undefined;
      throw this.storeError(err, key);
    }
  }

  /**
   * GET of at most `max` bytes; undefined when absent. The body is streamed and the
   * connection dropped past `max`: "truncate" keeps the first `max` bytes (pointer,
   * sidecars: their parsers refuse an oversized one), "refuse" is MODEL_TOO_LARGE.
   * (No Range request: some S3-compatible servers mishandle ranges on empty objects.)
   */
  private async get(name: string, max: number, over: "refuse" | "truncate", outer?: AbortSignal): Promise<Got | undefined> {
    const key = this.key(name);
    const signal = this.signal(outer, over === "refuse" ? this.downloadTimeoutMs : this.requestTimeoutMs);
    let r: GetObjectCommandOutput;
    try {
      r = await this.client.send(new (loadS3Sdk().GetObjectCommand)({ Bucket: this.loc.bucket, Key: key }), { abortSignal: signal });
    } catch (err) {
      if (isMissing(err, false)) return undefined;
      throw this.storeError(err, key);
    }
    const body = r.Body as Readable | undefined;
    if (over === "refuse" && r.ContentLength !== undefined && r.ContentLength > max) {
      body?.destroy();
      throw new ModelLoadError("MODEL_TOO_LARGE", `${this.describe(name)}: ${r.ContentLength} bytes (limit ${max})`);
    }
    const chunks: Buffer[] = [];
    let total = 0;
    const started = performance.now();
    try {
      if (body) {
        for await (const chunk of body) {
          const buf = chunk as Buffer;
          const elapsedMs = performance.now() - started;
          if (over === "refuse" && elapsedMs > this.downloadGraceMs && (total * 1000) / elapsedMs < this.minDownloadBytesPerSecond) {
            throw new ModelStoreError(
              "STORE_UNAVAILABLE",
              `${this.describe(name)}: download too slow (${total} bytes in ${Math.round(elapsedMs)} ms, under ${this.minDownloadBytesPerSecond} bytes/s): cut, tried again at the next poll`,
            );
          }
          if (total + buf.length > max) {
            if (over === "refuse") throw new ModelLoadError("MODEL_TOO_LARGE", `${this.describe(name)}: more than ${max} bytes`);
            chunks.push(buf.subarray(0, max - total));
            total = max;
            break;
          }
          chunks.push(buf);
          total += buf.length;
        }
      }
    } catch (err) {
      if (err instanceof ModelLoadError || err instanceof ModelStoreError) throw err;
      throw this.storeError(err, key);
    } finally {
      body?.destroy();
    }
    if (total < max && r.ContentLength !== undefined && total !== r.ContentLength) {
      throw new ModelStoreError("STORE_UNAVAILABLE", `${this.describe(name)}: download ended after ${total} of ${r.ContentLength} bytes`);
    }
    // One copy of the body at a time beside the chunks (a model may be 128 MiB): the joined buffer
    // is returned as it is unless it is a slice of Node's shared pool (small objects).
    const joined = Buffer.concat(chunks, total);
    chunks.length = 0;
    const own = joined.byteOffset === 0 && joined.buffer.byteLength === joined.byteLength;
    const bytes = own ? new Uint8Array(joined.buffer, 0, total) : new Uint8Array(joined);
    return { bytes, tag: r.ETag ?? `${total}:${r.LastModified?.getTime()}` };
  }

  private storeError(err: unknown, key: string): ModelStoreError {
    const where = `s3://${this.loc.bucket}/${key}`;
    const name = (err as { name?: string }).name ?? "Error";
    const msg = `${where}: ${name}: ${(err as Error).message}`;
    const st = status(err);
    if (name === "NoSuchBucket") return new ModelStoreError("STORE_BUCKET_NOT_FOUND", msg, { cause: err });
    // Not followed (a redirect could name any host): S3 answers one when the bucket is in another
    // region than the client's, or the endpoint is not the bucket's.
    if (st === 301 || st === 307 || name === "PermanentRedirect" || name === "TemporaryRedirect") {
      return new ModelStoreError("STORE_CONFIG_INVALID", `${where}: S3 answered a redirect (${st ?? name}): the bucket is in another region than the configured one (AWS_REGION) or the endpoint is not the bucket's`, { cause: err });
    }
    if (st === 401 || st === 403 || name === "AccessDenied" || name === "InvalidAccessKeyId" || name === "SignatureDoesNotMatch" || name === "CredentialsProviderError") {
      return new ModelStoreError("STORE_ACCESS_DENIED", msg, { cause: err });
    }
    return new ModelStoreError("STORE_UNAVAILABLE", msg, { cause: err });
  }
}

function status(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

/** A missing object: NoSuchKey (GET) or a 404 NotFound (HEAD has no body to name the bucket). */
function isMissing(err: unknown, isHead: boolean): boolean {
  const name = (err as { name?: string }).name;
  if (name === "NoSuchKey") return true;
  if (isHead && status(err) === 404 && name !== "NoSuchBucket") return true;
  return false;
}
