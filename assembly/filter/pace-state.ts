// The leader's pacing state per campaign, kept in shared data
// ("nexus/v1/pace-state/<campaign>") rather than only in the leader VM's memory:
// leadership moves between VMs and a new campaign set re-creates every
// CampaignRuntime, and either used to restart the PID (integral lost) and the
// hourly/minute soft-cap windows, and forget the fleet's daily spend until the
// next sync answer. The new leader (or the rebuilt runtime) picks it up here.
//
// Encoding (little-endian, 113 bytes): f64 integral, f64 last error, f64 multiplier,
// i64 last pace time (ms of monotonic.ts steadyMs(); older builds wrote wall-clock ms),
// i64 fleet day, i64 other pods' daily charged (micros), i64 hour number, i64 charged at
// the hour's start, i64 minute number, i64 charged at the minute's start, i64 fleet hour,
// i64 other pods' hourly charged, i64 fleet minute, i64 other pods' minute charged,
// u8 flags (bit 0: the PID has run).
import { Status } from "../proxy-wasm";
import { readShared, writeShared, shared } from "./shared";
import { CampaignRuntime } from "./ledger";

const SIZE: i32 = 113;
const buf = memory.data(SIZE);

/** Loads the published state into `rt` unless it already holds it; false when none was published. */
export function loadPaceState(rt: CampaignRuntime): bool {
  if (rt.paceStateLoaded) return true;
  rt.paceStateLoaded = true;
  if (readShared(rt.paceStateKey) != Status.OK || shared.len != SIZE) return false;
  const p = shared.ptr;
  const integral = load<f64>(p);
  const lastError = load<f64>(p, 8);
  const multiplier = load<f64>(p, 16);
  // A value no controller would write is ignored rather than fed into the PID.
  if (!isFinite(integral) || !isFinite(lastError) || !isFinite(multiplier) || multiplier < 0) return false;
  rt.pid.integral = integral;
  rt.pid.lastError = lastError;
  rt.pid.multiplier = multiplier;
  rt.pid.initialised = (load<u8>(p, 112) & 1) != 0;
  rt.lastPaceMs = load<i64>(p, 24);
  rt.othersDay = load<i64>(p, 32);
  rt.othersDailyCharged = load<i64>(p, 40);
  rt.hourNumber = load<i64>(p, 48);
  rt.hourStartCharged = load<i64>(p, 56);
  rt.minuteNumber = load<i64>(p, 64);
  rt.minuteStartCharged = load<i64>(p, 72);
  rt.othersHour = load<i64>(p, 80);
  rt.othersHourlyCharged = load<i64>(p, 88);
  rt.othersMinute = load<i64>(p, 96);
  rt.othersMinuteCharged = load<i64>(p, 104);
  return true;
}

/** Publishes `rt`'s pacing state (leader only; the last writer wins, as for the multiplier). */
export function savePaceState(rt: CampaignRuntime): void {
  store<f64>(buf, rt.pid.integral);
  store<f64>(buf, rt.pid.lastError, 8);
  store<f64>(buf, rt.pid.multiplier, 16);
  store<i64>(buf, rt.lastPaceMs, 24);
  store<i64>(buf, rt.othersDay, 32);
  store<i64>(buf, rt.othersDailyCharged, 40);
  store<i64>(buf, rt.hourNumber, 48);
  store<i64>(buf, rt.hourStartCharged, 56);
  store<i64>(buf, rt.minuteNumber, 64);
  store<i64>(buf, rt.minuteStartCharged, 72);
  store<i64>(buf, rt.othersHour, 80);
  store<i64>(buf, rt.othersHourlyCharged, 88);
  store<i64>(buf, rt.othersMinute, 96);
  store<i64>(buf, rt.othersMinuteCharged, 104);
  store<u8>(buf, rt.pid.initialised ? 1 : 0, 112);
  writeShared(rt.paceStateKey, buf, SIZE, 0);
}
