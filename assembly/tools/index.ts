// Entry of build/nexus_core.wasm: the filter's own core (OpenRTB parser,
// feature hashing, model scoring, pacing controller) plus the FTRL trainer,
// exported for the Node tools (train, replay, loadgen) through
// @assemblyscript/loader. Data crosses through two buffers owned here:
// callers write input bytes at inputPtr() and read results at outputPtr().
import { murmur3_32 } from "../core/hash/murmur3";
import { BidRequestParser } from "../core/openrtb/parse";
import { BidRequest } from "../core/openrtb/request";
import { FeatureExtractor } from "../core/features/extract";
import { FeatureVector } from "../core/features/feature-vector";
import { PersonalData, PersonalDataPolicy } from "../core/privacy/personal-data";
import { FtrlModel, FtrlParams } from "../core/train/ftrl";
import { LrModelPair } from "../core/model/lr-model";
import { PidController, PidGains } from "../core/pacing/pid";
import { SpendPlan } from "../core/pacing/spend-plan";
import { classifyOs, classifyBrowser, osName, browserName } from "../core/features/user-agent";

// The module uses the minimal runtime (no shadow stack: see
// assembly/proxy-wasm/memory.ts): the collector runs only when called with no
// Wasm frame on the stack. Exports that replace objects call collect() as
// their last step, when everything they keep is reachable from globals.
@inline
function collect(): void {
  __collect();
}

const INPUT_CAPACITY: i32 = 1 << 20;
const input = heap.alloc(<usize>INPUT_CAPACITY);
const output = heap.alloc(4096);

export function inputPtr(): usize {
  return input;
}
export function inputCapacity(): i32 {
  return INPUT_CAPACITY;
}
export function outputPtr(): usize {
  return output;
}

/** murmur3_32(input[0..len), seed). */
export function hashBytes(len: i32, seed: u32): u32 {
  return murmur3_32(input, len, seed);
}

// ---- requests and features ------------------------------------------------

let hashBits: i32 = 18;
const parser = new BidRequestParser(1 << 20, 32);
const request = new BidRequest();
let extractor = new FeatureExtractor(18);
const features = new FeatureVector();
// The filter's privacy decision, so that a model is trained on the features it will be served.
const privacy = new PersonalDataPolicy();

/** The filter's gdpr_vendor_id for the privacy decision of requestFeatures (0: purposes only). */
export function setGdprVendorId(id: i32): void {
  privacy.gdprVendorId = id;
}

export function setHashBits(bits: i32): void {
  hashBits = bits;
  extractor = new FeatureExtractor(bits);
  collect();
}

/**
 * Parses input[0..len) as a BidRequest and writes the feature buckets of
 * imp[impIndex] at outputPtr() as u32s. Returns the count, or -(error code)
 * if the request does not parse (message via parseErrorPtr/Len).
 */
export function requestFeatures(len: i32, impIndex: i32, timeMs: i64, utcOffsetMinutes: i32): i32 {
  const err = parser.parse(input, len, request);
  if (err != 0) return -err;
  if (impIndex < 0 || impIndex >= request.impCount) return 0;
  features.reset();
  const personal = privacy.decide(request) == PersonalData.ALLOWED;
  // The floor as sent: training data's floors are in the currency the model learns them in
  // (the filter converts others into it: plugin floor_feature_currency).
  const imp = request.imp(impIndex);
  extractor.extract(request, imp, timeMs, utcOffsetMinutes, features, personal, imp.bidfloor);
  for (let i = 0; i < features.count; i++) store<u32>(output + (<usize>i << 2), features.at(i));
  return features.count;
}

export function parseErrorPtr(): usize {
  return parser.errorMessage.ptr;
}
export function parseErrorLen(): i32 {
  return parser.errorMessage.len;
}

/** "os_browser" of the UA in input[0..len), written at outputPtr(); returns its length. */
export function userAgentClass(len: i32): i32 {
  const os = osName(classifyOs(input, len));
  const br = browserName(classifyBrowser(input, len));
  let n = 0;
  for (let i = 0; i < os.length; i++) store<u8>(output + <usize>(n++), <u8>os.charCodeAt(i));
  store<u8>(output + <usize>(n++), 0x5f);
  for (let i = 0; i < br.length; i++) store<u8>(output + <usize>(n++), <u8>br.charCodeAt(i));
  return n;
}

// ---- FTRL training (two models: CTR and CVR) --------------------------------

const ftrlParams = new FtrlParams();
let ftrlCtr: FtrlModel | null = null;
let ftrlCvr: FtrlModel | null = null;

export function ftrlInit(bits: i32, alpha: f64, beta: f64, l1: f64, l2: f64): void {
  ftrlParams.alpha = alpha;
  ftrlParams.beta = beta;
  ftrlParams.l1 = l1;
  ftrlParams.l2 = l2;
  ftrlCtr = new FtrlModel(bits, ftrlParams);
  ftrlCvr = new FtrlModel(bits, ftrlParams);
  collect();
}

/** One step on the CTR (which=0) or CVR (which=1) model with the buckets at inputPtr(); returns p before the update. */
export function ftrlUpdate(which: i32, count: i32, label: f64): f64 {
  const m = which == 0 ? ftrlCtr : ftrlCvr;
  if (m === null) return -1;
  return m.update(input, count, label);
}

/** Sets the bias weight of a model (before training: the log-odds of the base rate). */
export function ftrlSetBias(which: i32, w: f64): void {
  const m = which == 0 ? ftrlCtr : ftrlCvr;
  if (m !== null) m.setBias(w);
}

export function ftrlPredict(which: i32, count: i32): f64 {
  const m = which == 0 ? ftrlCtr : ftrlCvr;
  if (m === null) return -1;
  return m.predict(input, count);
}

/** Writes the 2^bits weights of a model as f32 at `dst` (a buffer the caller got from __new or inputPtr). */
export function ftrlWeights(which: i32, dst: usize): f64 {
  const m = which == 0 ? ftrlCtr : ftrlCvr;
  if (m === null) return 0;
  for (let i = 0; i < m.size; i++) store<f32>(dst + (<usize>i << 2), <f32>m.weight(i));
  return m.bias();
}

export function allocate(bytes: i32): usize {
  return heap.alloc(<usize>bytes);
}

export function release(ptr: usize): void {
  heap.free(ptr);
}

// ---- scoring with a model blob (the filter's own code path) ------------------

let scorer: LrModelPair | null = null;

/** Loads an NXM blob from input[0..len); returns 0 or the filter's model error code. */
export function loadModel(bits: i32, len: i32): i32 {
  const m = new LrModelPair(bits);
  const err = m.loadNxm(input, len);
  if (err == 0) scorer = m;
  collect();
  return err;
}

/** Scores the buckets at inputPtr(); writes pCTR, pCVR (f64) at outputPtr(). */
export function scoreBuckets(count: i32): bool {
  const m = scorer;
  if (m === null) return false;
  features.reset();
  for (let i = 0; i < count; i++) features.push(load<u32>(input + (<usize>i << 2)));
  m.score(features);
  store<f64>(output, m.pCtr);
  store<f64>(output + 8, m.pCvr);
  return true;
}

// ---- pacing (the filter's PID controller, for the replay and pacing simulations) ----

const gains = new PidGains();
const controllers = new Array<PidController>();
const plan = new SpendPlan();

export function pidConfigure(kp: f64, ki: f64, kd: f64, minM: f64, maxM: f64, integralLimit: f64): void {
  gains.kp = kp;
  gains.ki = ki;
  gains.kd = kd;
  gains.minMultiplier = minM;
  gains.maxMultiplier = maxM;
  gains.integralLimit = integralLimit;
}

/** Ids of released controllers, reused by pidCreate (a replay creates one per paced run: thousands). */
const freeControllers = new Array<i32>();

export function pidCreate(): i32 {
  if (freeControllers.length > 0) return freeControllers.pop();
  controllers.push(new PidController());
  return controllers.length - 1;
}

/** Hands a controller back: reset, its id is the next pidCreate's. An unknown or free id is ignored. */
export function pidRelease(id: i32): void {
  if (id < 0 || id >= controllers.length || freeControllers.includes(id)) return;
  controllers[id].reset();
  freeControllers.push(id);
}

export function pidUpdate(id: i32, error: f64, dtSeconds: f64): f64 {
  if (id < 0 || id >= controllers.length) return 1.0;
  return controllers[id].update(error, dtSeconds, gains);
}

/** Sets the spend plan from 24 f64 hourly weights at inputPtr(); returns false if unusable. */
export function planSetHourly(): bool {
  const w = new StaticArray<f64>(24);
  for (let i = 0; i < 24; i++) w[i] = load<f64>(input + (<usize>i << 3));
  const ok = plan.setHourlyWeights(w);
  collect();
  return ok;
}

export function planSetFinishEarly(ms: i64): void {
  plan.finishEarlyMs = ms;
}

export function planFraction(msIntoDay: i64): f64 {
  return plan.fractionAt(msIntoDay);
}

// ---- the whole decision (benchmarks, replay): parse → decide → reply -------

import { CampaignConfigParser, CAMPAIGN_SCRATCH_BYTES } from "../core/bidding/campaign-config";
import { CampaignTable } from "../core/bidding/campaign";
// Pure parsing (no ABI calls): the filter's plugin configuration, checked here as the filter reads it.
import { PluginConfigParser } from "../filter/config";
import { Decision, DecisionEngine, DecisionSettings } from "../core/bidding/decision";
import { BudgetPort } from "../core/bidding/budget-port";
import { ByteWriter } from "../core/bytes/writer";
import { Str } from "../core/bytes/str";
import { writeBidResponse, writeError, ReplySettings } from "../core/reply/bid-response";
import { NoBid } from "../core/bidding/reasons";

let table = new CampaignTable();
// The filter's parser with the filter's limits (assembly/filter/sync.ts): the host checks a set
// with it before publishing (host/src/control/campaign-check.ts).
const campaignParser = new CampaignConfigParser(CAMPAIGN_SCRATCH_BYTES);
let engine = new DecisionEngine(18);
const decision = new Decision();
const settings = new DecisionSettings();
const replySettings = new ReplySettings();
const reply = new ByteWriter(256 * 1024);
const noticeBase = new Str();
/** Grants every reservation in full: the benchmark measures the decision, not the money. */
const unlimited = new BudgetPort();

function literal(s: string, out: Str): void {
  const b = String.UTF8.encode(s);
  out.set(changetype<usize>(b), b.byteLength);
  keep.push(b);
}
const keep = new Array<ArrayBuffer>();

/** Why the last loadCampaigns() or checkCampaigns() refused its set (campaignError()). */
let campaignRefusal = "";

/** Loads a campaign set (JSON in input[0..len)); returns 0, or -1 with the message at campaignError(). */
export function loadCampaigns(len: i32): i32 {
  const t = campaignParser.parse(input, len);
  if (t === null) {
    campaignRefusal = campaignParser.error;
    collect();
    return -1;
  }
  table = t;
  if (keep.length == 0) {
    literal("USD", settings.currency);
    literal("USD", replySettings.currency);
    literal("nexus", replySettings.seat);
    literal("nexus", settings.seat);
    literal("/openrtb2/win", replySettings.winPath);
    literal("/openrtb2/loss", replySettings.lossPath);
    literal("http://bidder.example", noticeBase);
  }
  collect();
  return 0;
}

/**
 * Parses the campaign set at [ptr, ptr+len) (a buffer from allocate(): a set may be larger than
 * the input buffer) with the filter's parser and keeps nothing; returns 0, or -1 with the
 * message at campaignError(). The host's check before it publishes a set. With an account
 * currency at [accountPtr, +accountLen) (accountLen > 0), also refuses a set in another one, as
 * a filter with that plugin currency would.
 */
export function checkCampaigns(ptr: usize, len: i32, accountPtr: usize, accountLen: i32): i32 {
  const t = campaignParser.parse(ptr, len);
  campaignRefusal = t === null ? campaignParser.error : accountLen > 0 ? t.currencyRefusal(accountPtr, accountLen) : "";
  collect();
  return campaignRefusal.length == 0 ? 0 : -1;
}

export function campaignError(): string {
  return campaignRefusal;
}

const pluginParser = new PluginConfigParser();
let pluginRefusal = "";

/**
 * Parses a plugin configuration at [ptr, ptr+len) (a buffer from allocate()) with the filter's
 * own parser and keeps nothing; returns 0, or -1 with the message at pluginConfigError(). The
 * sidecar host's check of its copy of Envoy's plugin configuration (it paces leases by it).
 */
export function checkPluginConfig(ptr: usize, len: i32): i32 {
  pluginRefusal = pluginParser.parse(ptr, len) === null ? pluginParser.error : "";
  collect();
  return pluginRefusal.length == 0 ? 0 : -1;
}

export function pluginConfigError(): string {
  return pluginRefusal;
}

/** Uses the model loaded by loadModel() for decisions with this hash size. */
export function useModelForDecisions(bits: i32): bool {
  if (scorer === null) return false;
  engine = new DecisionEngine(bits);
  collect();
  return true;
}

/**
 * The filter's decision on the bid request in input[0..len): 200 (reply at
 * replyPtr/replyLen), 204 (no-bid, reason code in the high bits), or 400.
 */
export function decide(len: i32, nowMs: i64): i32 {
  const m = scorer;
  if (m === null) return 500;
  if (parser.parse(input, len, request) != 0) {
    writeError(reply, parser.errorMessage.ptr, parser.errorMessage.len);
    return 400;
  }
  engine.decide(request, m, table, settings, unlimited, nowMs, decision);
  if (decision.count == 0) return 204 | (decision.reason << 16);
  // As the filter: the bids that fit the reply buffer.
  decision.count = writeBidResponse(reply, replySettings, noticeBase, request.id, decision.bids, decision.count);
  return decision.count > 0 ? 200 : 204 | (NoBid.REPLY_TOO_LARGE << 16);
}

export function replyPtr(): usize {
  return reply.base;
}

export function replyLen(): i32 {
  return reply.len;
}

/**
 * decide()'s exchange rate for the currency whose code is in input[0..len): 1 unit = `rate` USD,
 * as the filter's `fx_rates` (a floor in a currency without a rate is a no-bid, "currency").
 */
export function setFxRate(len: i32, rate: f64): void {
  settings.fx.set(String.UTF8.decodeUnsafe(input, <usize>len), rate);
}

/**
 * decide()'s floor_feature_currency (the code in input[0..len), or nothing when len is 0), as the
 * filter's plugin setting; after setFxRate, whose rate for it it takes.
 */
export function setFloorFeatureCurrency(len: i32): void {
  const code = new Str();
  code.set(input, len); // read at once (its rate is kept, not the code)
  settings.setFloorFeatureCurrency(code);
}

/** Parses the bid request in input[0..len) only (the benchmark's breakdown): 0 or 400. */
export function parseOnly(len: i32): i32 {
  return parser.parse(input, len, request) == 0 ? 0 : 400;
}
