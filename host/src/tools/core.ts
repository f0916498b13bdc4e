// Typed wrapper over build/nexus_core.wasm (assembly/tools/index.ts): the
// filter's own OpenRTB parser, feature hashing, model scoring, FTRL trainer,
// PID pacing controller and spend plan, for the offline tools. Nothing here
// re-implements the core: every number comes out of the compiled module.
//
// Data crosses through the module's two buffers: bytes are copied to
// inputPtr() (capacity inputCapacity()) and results read at outputPtr().
// Views on the module memory are made fresh for every call because the
// memory may grow (and detach older views) during any call.
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { instantiate, instantiateSync } from "@assemblyscript/loader";
import { PACKAGE_ROOT } from "../paths.ts";
import { ToolError } from "./errors.ts";

export const DEFAULT_CORE_WASM = join(PACKAGE_ROOT, "build", "nexus_core.wasm");

/** Seed of the feature hash (assembly/core/features/extract.ts FEATURE_SEED). */
export const FEATURE_SEED = 0;

/** The filter's model error codes (assembly/core/model/lr-model.ts ModelError). */
export const CORE_MODEL_ERRORS: Readonly<Record<number, string>> = {
  1: "TRUNCATED",
  2: "BAD_MAGIC",
  3: "BAD_HEADER",
  4: "HASH_BITS_MISMATCH",
  5: "BAD_INDEX",
  6: "NON_FINITE",
  7: "BAD_LENGTH",
  8: "ZERO_WEIGHT",
};

/** ParseError.parseCode of a request larger than the core's input buffer (not one of the parser's codes, all positive). */
export const REQUEST_TOO_LARGE = 0;

/** The skip reason of a refused request: `request-too-large` (REQUEST_TOO_LARGE) or `request-rejected` (the parser's refusal). */
export function rejectedAs(e: ParseError): string {
  return e.parseCode === REQUEST_TOO_LARGE ? "request-too-large" : "request-rejected";
}

/** A request the core's OpenRTB parser refused: returned as a value, like the core does. */
export class ParseError extends ToolError {
  /** The parser's ParseErrorCode (assembly/core/openrtb/errors.ts). */
  readonly parseCode: number;
  constructor(parseCode: number, message: string) {
    super("BAD_DATA", message);
    this.name = "ParseError";
    this.parseCode = parseCode;
  }
}

export interface FtrlHyperParams {
  alpha: number;
  beta: number;
  l1: number;
  l2: number;
}

export interface PidGainsConfig {
  kp: number;
  ki: number;
  kd: number;
  minMultiplier: number;
  maxMultiplier: number;
  integralLimit: number;
}

/** The core's default gains (assembly/core/pacing/pid.ts PidGains). */
export const DEFAULT_PID_GAINS: Readonly<PidGainsConfig> = {
  kp: 80.0,
  ki: 0.005,
  kd: 0.0,
  minMultiplier: 0.05,
  maxMultiplier: 1.0,
  integralLimit: 50.0,
};

export type ModelWhich = 0 | 1; // 0 = CTR, 1 = CVR

interface CoreExports {
  memory: { readonly buffer: ArrayBuffer };
  inputPtr(): number;
  inputCapacity(): number;
  outputPtr(): number;
  hashBytes(len: number, seed: number): number;
  setHashBits(bits: number): void;
  setGdprVendorId(id: number): void;
  requestFeatures(len: number, impIndex: number, timeMs: bigint, utcOffsetMinutes: number): number;
  parseErrorPtr(): number;
  parseErrorLen(): number;
  userAgentClass(len: number): number;
  ftrlInit(bits: number, alpha: number, beta: number, l1: number, l2: number): void;
  ftrlUpdate(which: number, count: number, label: number): number;
  ftrlPredict(which: number, count: number): number;
  ftrlSetBias(which: number, w: number): void;
  ftrlWeights(which: number, dst: number): number;
  allocate(bytes: number): number;
  release(ptr: number): void;
  loadModel(bits: number, len: number): number;
  scoreBuckets(count: number): number;
  pidConfigure(kp: number, ki: number, kd: number, minM: number, maxM: number, integralLimit: number): void;
  pidCreate(): number;
  // Optional: builds of the tools entry before pidRelease keep every controller.
  pidRelease?(id: number): void;
  pidUpdate(id: number, error: number, dtSeconds: number): number;
  planSetHourly(): number;
  planSetFinishEarly(ms: bigint): void;
  planFraction(msIntoDay: bigint): number;
  __collect(): void;
  __getString(ptr: number): string;
  // The whole decision (optional: newer builds of the tools entry).
  loadCampaigns?(len: number): number;
  campaignError?(): number;
  checkCampaigns?(ptr: number, len: number, accountPtr: number, accountLen: number): number;
  checkPluginConfig?(ptr: number, len: number): number;
  pluginConfigError?(): number;
  useModelForDecisions?(bits: number): number;
  decide?(len: number, nowMs: bigint): number;
  replyPtr?(): number;
  replyLen?(): number;
}

/** The filter's decision on one request (see NexusCore.decide). */
export interface CoreDecision {
  /** 200 bid, 204 no-bid, 400 bad request. */
  status: number;
  /** No-bid reason code (assembly/core/bidding/reasons.ts) for 204. */
  reason?: number;
  /** The BidResponse (200) or error (400) body. */
  body?: string;
}

const REQUIRED_EXPORTS: ReadonlyArray<keyof CoreExports> = [
  "memory", "inputPtr", "inputCapacity", "outputPtr", "hashBytes", "setHashBits", "setGdprVendorId", "requestFeatures",
  "parseErrorPtr", "parseErrorLen", "userAgentClass", "ftrlInit", "ftrlSetBias", "ftrlUpdate", "ftrlPredict",
  "ftrlWeights", "allocate", "release", "loadModel", "scoreBuckets", "pidConfigure", "pidCreate",
  "pidUpdate", "planSetHourly", "planSetFinishEarly", "planFraction", "__collect",
];

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

/**
 * A file that is not the compiled core (a model, the filter's .wasm: WebAssembly's own compile or
 * link error otherwise, with no code): CORE_EXPORT_MISSING with what to do.
 */
function notTheCore(path: string, err: unknown): unknown {
  if (err instanceof ToolError) return err;
  return new ToolError("CORE_EXPORT_MISSING", `${path} is not the compiled core (build/nexus_core.wasm, made by npm run build): ${(err as Error).message}`, { cause: err });
}

/** The error of a core that cannot be read (not built yet): the message says how to build it. */
function coreMissing(path: string, err: unknown): ToolError {
  return new ToolError("CORE_WASM_MISSING", `cannot read ${path}: build it with \`npx asc assembly/tools/index.ts --target tools\``, { cause: err });
}

export class NexusCore {
  private readonly x: CoreExports;
  private readonly input: number;
  private readonly output: number;
  /** Capacity of the input buffer in bytes. */
  readonly inputCapacity: number;
  private bits = 18;
  private modelBits = -1;
  private ftrlReady = false;

  private constructor(x: CoreExports) {
    this.x = x;
    this.input = x.inputPtr();
    this.output = x.outputPtr();
    this.inputCapacity = x.inputCapacity();
    if ((this.input & 3) !== 0) throw new ToolError("CORE_EXPORT_MISSING", "the core's input buffer is not 4-byte aligned");
    this.setHashBits(18);
  }

  /** Loads build/nexus_core.wasm (or `path`). Throws ToolError CORE_WASM_MISSING when it is not built. */
  static async load(path: string = DEFAULT_CORE_WASM): Promise<NexusCore> {
    const bytes = await readFile(path).catch((err: unknown) => {
      throw coreMissing(path, err);
    });
    try {
      return await NexusCore.fromBytes(new Uint8Array(bytes));
    } catch (err) {
      throw notTheCore(path, err);
    }
  }

  /**
   * load(), synchronously: for callers that cannot await (the host's campaign check runs in the
   * CampaignCatalog constructor). The module is ~100 KB: compiling it takes milliseconds.
   */
  static loadSync(path: string = DEFAULT_CORE_WASM): NexusCore {
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (err) {
      throw coreMissing(path, err);
    }
    try {
      return NexusCore.checked(instantiateSync<Record<string, unknown>>(new Uint8Array(bytes), {}).exports);
    } catch (err) {
      throw notTheCore(path, err);
    }
  }

  static async fromBytes(bytes: Uint8Array): Promise<NexusCore> {
    const { exports } = await instantiate<Record<string, unknown>>(bytes, {});
    return NexusCore.checked(exports);
  }

  private static checked(exports: object): NexusCore {
    const x = exports as unknown as Record<string, unknown>;
    for (const name of REQUIRED_EXPORTS) {
      if (x[name] === undefined) throw new ToolError("CORE_EXPORT_MISSING", `nexus_core.wasm has no export ${name}: rebuild it`);
    }
    return new NexusCore(exports as unknown as CoreExports);
  }

  get hashBits(): number {
    return this.bits;
  }

  private viewBuffer: ArrayBuffer | undefined;
  private mem8 = new Uint8Array(0);
  private mem32 = new Uint32Array(0);

  /** Whole-memory views, remade only when the memory grew (which detaches the old buffer). */
  private refreshViews(): void {
    const buf = this.x.memory.buffer;
    if (buf !== this.viewBuffer) {
      this.viewBuffer = buf;
      this.mem8 = new Uint8Array(buf);
      this.mem32 = new Uint32Array(buf);
    }
  }

  private u8(ptr: number, len: number): Uint8Array {
    this.refreshViews();
    return this.mem8.subarray(ptr, ptr + len);
  }

  private writeInput(bytes: Uint8Array): void {
    if (bytes.length > this.inputCapacity) {
      throw new ToolError("CORE_INPUT_TOO_LARGE", `${bytes.length} bytes do not fit the core's ${this.inputCapacity}-byte input buffer`);
    }
    this.refreshViews();
    this.mem8.set(bytes, this.input);
  }

  private writeBuckets(buckets: Uint32Array): void {
    if (buckets.length * 4 > this.inputCapacity) {
      throw new ToolError("CORE_INPUT_TOO_LARGE", `${buckets.length} buckets do not fit the core's input buffer`);
    }
    this.refreshViews();
    this.mem32.set(buckets, this.input >>> 2); // inputPtr() is 16-byte aligned
  }

  /** Hash size of the feature extractor (the filter's hash_bits). */
  setHashBits(bits: number): void {
    this.x.setHashBits(bits);
    this.bits = bits;
  }

  /**
   * The filter's gdpr_vendor_id for requestFeatures' privacy decision (0, the default: TCF
   * purposes only). Requests whose personal data may not be used get contextual features only,
   * as in the filter (docs/FEATURES.md, "Privacy signals").
   */
  setGdprVendorId(id: number): void {
    this.x.setGdprVendorId(id);
  }

  /**
   * The filter's feature buckets of imp[impIndex] of an OpenRTB request, at
   * `timeMs` (epoch ms) seen in UTC+`utcOffsetMinutes`. A request the parser
   * refuses comes back as a ParseError value (not thrown); an impIndex past
   * the last imp gives no buckets.
   */
  requestFeatures(json: Uint8Array, impIndex: number, timeMs: number, utcOffsetMinutes: number): Uint32Array | ParseError {
    // A row too large for the core's input buffer is one refused request (skipped and counted by
    // the caller), not the end of a run over millions of rows. (The filter's own limit,
    // max_body_bytes, is 64 KiB by default: a bidder answers larger requests 413.)
    if (json.length > this.inputCapacity) {
      return new ParseError(REQUEST_TOO_LARGE, `request of ${json.length} bytes: more than the core's ${this.inputCapacity}-byte input buffer`);
    }
    this.writeInput(json);
    const n = this.x.requestFeatures(json.length, impIndex, BigInt(Math.trunc(timeMs)), utcOffsetMinutes);
    if (n < 0) {
      const msg = utf8Decoder.decode(this.u8(this.x.parseErrorPtr(), this.x.parseErrorLen()));
      return new ParseError(-n, msg);
    }
    return new Uint32Array(this.x.memory.buffer, this.output, n).slice();
  }

  /** murmur3_32 (x86) of the bytes (a string is hashed as its UTF-8 bytes). */
  hash(bytes: Uint8Array | string, seed: number = FEATURE_SEED): number {
    const b = typeof bytes === "string" ? utf8.encode(bytes) : bytes;
    this.writeInput(b);
    return this.x.hashBytes(b.length, seed >>> 0) >>> 0;
  }

  /** The bucket the filter puts the feature string `fieldEqValue` ("domain=example.com") in. */
  bucketOf(fieldEqValue: string): number {
    return (this.hash(fieldEqValue, FEATURE_SEED) & ((1 << this.bits) - 1)) >>> 0;
  }

  /** "os_browser" of a User-Agent, by the filter's (iPinYou) rule. */
  userAgentClass(ua: string): string {
    const b = utf8.encode(ua);
    this.writeInput(b);
    const n = this.x.userAgentClass(b.length);
    return utf8Decoder.decode(this.u8(this.output, n));
  }

  // ---- FTRL ----------------------------------------------------------------

  /** Fresh CTR and CVR FTRL models of 2^bits coordinates. */
  ftrlInit(bits: number, p: FtrlHyperParams): void {
    // The previous models become garbage; collect before allocating the next (2 × 16 × 2^bits bytes).
    if (this.ftrlReady) this.x.__collect();
    this.x.ftrlInit(bits, p.alpha, p.beta, p.l1, p.l2);
    this.ftrlReady = true;
  }

  private needFtrl(): void {
    if (!this.ftrlReady) throw new ToolError("CORE_NOT_INITIALISED", "ftrlInit() first");
  }

  /** One FTRL step on the CTR (0) or CVR (1) model; returns the prediction made before the update. */
  ftrlUpdate(which: ModelWhich, buckets: Uint32Array, label: number): number {
    this.needFtrl();
    this.writeBuckets(buckets);
    return this.x.ftrlUpdate(which, buckets.length, label);
  }

  /** Sets a model's bias weight (before training: the log-odds of the base rate). */
  ftrlSetBias(which: ModelWhich, w: number): void {
    this.needFtrl();
    this.x.ftrlSetBias(which, w);
  }

  ftrlPredict(which: ModelWhich, buckets: Uint32Array): number {
    this.needFtrl();
    this.writeBuckets(buckets);
    return this.x.ftrlPredict(which, buckets.length);
  }

  /** The current weights (float32, 2^bits of them) and bias of a model. */
  ftrlWeights(which: ModelWhich, bits: number): { weights: Float32Array; bias: number } {
    this.needFtrl();
    const n = 2 ** bits;
    const ptr = this.x.allocate(n * 4);
    try {
      const bias = this.x.ftrlWeights(which, ptr);
      const weights = new Float32Array(this.x.memory.buffer, ptr, n).slice();
      return { weights, bias };
    } finally {
      this.x.release(ptr);
    }
  }

  // ---- scoring ---------------------------------------------------------------

  /** Loads an NXM blob into the core's scorer (the filter's loader). Throws CORE_MODEL_REJECTED. */
  loadModel(nxm: Uint8Array, hashBits: number = this.bits): void {
    this.writeInput(nxm);
    const err = this.x.loadModel(hashBits, nxm.length);
    if (err !== 0) {
      throw new ToolError("CORE_MODEL_REJECTED", `the core refused the model: ${CORE_MODEL_ERRORS[err] ?? `error ${err}`}`);
    }
    this.modelBits = hashBits;
  }

  /** pCTR and pCVR of feature buckets with the loaded model (the filter's scoring code). */
  score(buckets: Uint32Array): { pCtr: number; pCvr: number } {
    if (this.modelBits < 0) throw new ToolError("CORE_NO_MODEL", "loadModel() first");
    this.writeBuckets(buckets);
    this.x.scoreBuckets(buckets.length);
    const out = new Float64Array(this.x.memory.buffer, this.output, 2);
    return { pCtr: out[0]!, pCvr: out[1]! };
  }

  // ---- the whole decision (campaigns + model + the filter's decision engine) ----

  private need<K extends keyof CoreExports>(name: K): NonNullable<CoreExports[K]> {
    const f = this.x[name];
    if (f === undefined) throw new ToolError("CORE_EXPORT_MISSING", `nexus_core.wasm has no export ${String(name)}: rebuild it`);
    return f as NonNullable<CoreExports[K]>;
  }

  /** Parses a campaign set with the filter's parser (docs/CAMPAIGNS.md). Throws BAD_DATA with the parser's message. */
  loadCampaigns(json: Uint8Array | string): void {
    const b = typeof json === "string" ? utf8.encode(json) : json;
    this.writeInput(b);
    if (this.need("loadCampaigns")(b.length) !== 0) {
      throw new ToolError("BAD_DATA", `campaign set refused: ${this.x.__getString(this.need("campaignError")())}`);
    }
  }

  /**
   * Checks a campaign set with the filter's parser and limits, keeping nothing (the loaded
   * campaigns stay). Returns undefined when the filter would load it, else the parser's reason
   * ("campaigns[0].creatives[0].w: must be between 1 and 65535"). Any size: the set is copied
   * to a buffer of its own, not to the input buffer. With `accountCurrency`, a set whose
   * "currency" is another one is refused too, as a filter with that plugin currency refuses it.
   */
  checkCampaigns(json: Uint8Array | string, accountCurrency = ""): string | undefined {
    const b = typeof json === "string" ? utf8.encode(json) : json;
    const account = utf8.encode(accountCurrency);
    const check = this.need("checkCampaigns");
    // The set, then the account currency, in one buffer.
    const ptr = this.x.allocate(Math.max(b.length + account.length, 1));
    try {
      this.u8(ptr, b.length).set(b);
      this.u8(ptr + b.length, account.length).set(account);
      if (check(ptr, b.length, ptr + b.length, account.length) === 0) return undefined;
      return this.x.__getString(this.need("campaignError")());
    } finally {
      this.x.release(ptr);
    }
  }

  /**
   * Checks a plugin configuration (its JSON text) with the filter's own parser. Returns undefined
   * when the filter would take it, else the parser's reason ("pacing.hourly_weights: expected 24 weights").
   */
  checkPluginConfig(json: string): string | undefined {
    const b = utf8.encode(json);
    const check = this.need("checkPluginConfig");
    const ptr = this.x.allocate(Math.max(b.length, 1));
    try {
      this.u8(ptr, b.length).set(b);
      if (check(ptr, b.length) === 0) return undefined;
      return this.x.__getString(this.need("pluginConfigError")());
    } finally {
      this.x.release(ptr);
    }
  }

  /**
   * The filter's decision on a BidRequest with the loaded model (loadModel)
   * and campaigns (loadCampaigns), unlimited budget, account currency USD and
   * no exchange rates, at `nowMs`.
   */
  decide(json: Uint8Array | string, nowMs: number): CoreDecision {
    if (this.modelBits < 0) throw new ToolError("CORE_NO_MODEL", "loadModel() first");
    if (this.need("useModelForDecisions")(this.modelBits) === 0) throw new ToolError("CORE_NO_MODEL", "loadModel() first");
    const b = typeof json === "string" ? utf8.encode(json) : json;
    this.writeInput(b);
    const code = this.need("decide")(b.length, BigInt(Math.trunc(nowMs)));
    const status = code & 0xffff;
    const out: CoreDecision = { status };
    if (status === 204) out.reason = code >>> 16;
    else if (status === 200 || status === 400) out.body = utf8Decoder.decode(this.u8(this.need("replyPtr")(), this.need("replyLen")()));
    return out;
  }

  // ---- pacing --------------------------------------------------------------

  /** Gains shared by every controller (the core keeps one set). */
  pidConfigure(g: PidGainsConfig): void {
    this.x.pidConfigure(g.kp, g.ki, g.kd, g.minMultiplier, g.maxMultiplier, g.integralLimit);
  }

  /** A new controller (multiplier 1); returns its id. */
  pidCreate(): number {
    return this.x.pidCreate();
  }

  /** Hands a controller back (reset; its id is reused by the next pidCreate). */
  pidRelease(id: number): void {
    this.x.pidRelease?.(id);
  }

  /** One control step: error = planned − actual spend as a fraction of the budget. Returns the multiplier. */
  pidUpdate(id: number, error: number, dtSeconds: number): number {
    return this.x.pidUpdate(id, error, dtSeconds);
  }

  /** Spend plan from 24 hourly weights; false (plan unchanged) when unusable. */
  planSetHourly(weights: ArrayLike<number>): boolean {
    if (weights.length !== 24) return false;
    const f = new Float64Array(24);
    for (let i = 0; i < 24; i++) f[i] = weights[i]!;
    this.writeInput(new Uint8Array(f.buffer));
    return this.x.planSetHourly() !== 0;
  }

  /** A flat plan (24 equal hours). */
  planSetFlat(): void {
    this.planSetHourly(new Array<number>(24).fill(1));
  }

  planSetFinishEarly(ms: number): void {
    this.x.planSetFinishEarly(BigInt(Math.trunc(ms)));
  }

  /** Planned fraction of the day's budget spent by `msIntoDay`. */
  planFraction(msIntoDay: number): number {
    return this.x.planFraction(BigInt(Math.trunc(msIntoDay)));
  }
}
