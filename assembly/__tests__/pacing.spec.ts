// PID pacing and the day's spend plan (assembly/core/pacing/*).
import { clamp, PidController, PidGains } from "../core/pacing/pid";
import { SpendPlan } from "../core/pacing/spend-plan";

const DAY_MS: i64 = 86400000;
const HOUR_MS: i64 = 3600000;

function gains(kp: f64, ki: f64, kd: f64, min: f64, max: f64, ilim: f64): PidGains {
  const g = new PidGains();
  g.kp = kp;
  g.ki = ki;
  g.kd = kd;
  g.minMultiplier = min;
  g.maxMultiplier = max;
  g.integralLimit = ilim;
  return g;
}

/** The seed's gains: kp 4, ki 0.02/s, no kd, output in [0.05, 1], integral within +-50. */
const STD = gains(4, 0.02, 0, 0.05, 1.0, 50);

describe("PidController", () => {
  it("starts at multiplier 1 with sane default gains", () => {
    // The default gains are tuned on a simulation (they change); only their shape is pinned.
    const g = new PidGains();
    expect(g.kp).toBeGreaterThan(0.0);
    expect(g.ki).toBeGreaterThanOrEqual(0.0);
    expect(g.minMultiplier).toBeGreaterThan(0.0);
    expect(g.minMultiplier).toBeLessThan(g.maxMultiplier);
    expect(g.integralLimit).toBeGreaterThan(0.0);
    const p = new PidController();
    expect(p.multiplier).toBe(1.0);
    expect(p.initialised).toBe(false);
  });

  it("responds proportionally around 1 (P only)", () => {
    const g = gains(4, 0, 0, 0.05, 3, 50);
    const p = new PidController();
    expect(p.update(0.1, 1, g)).toBe(1.0 + 4 * 0.1);
    expect(p.update(-0.1, 1, g)).toBe(1.0 - 4 * 0.1);
    expect(p.update(0, 1, g)).toBe(1.0);
    expect(p.multiplier).toBe(1.0);
    expect(p.update(0.25, 1, g)).toBe(2.0);
  });

  it("clamps to [min, max]", () => {
    const g = STD;
    const p = new PidController();
    expect(p.update(0.5, 60, g)).toBe(1.0);
    expect(p.update(-1.0, 60, g)).toBe(0.05);
    expect(p.update(-100.0, 60, g)).toBe(0.05);
    expect(p.multiplier).toBe(0.05);
    expect(clamp(5, 0, 1)).toBe(1);
    expect(clamp(-5, 0, 1)).toBe(0);
    expect(clamp(0.5, 0, 1)).toBe(0.5);
  });

  it("integrates error x dt into the output", () => {
    const g = gains(0, 0.5, 0, 0, 100, 50);
    const p = new PidController();
    expect(p.update(0.2, 10, g)).toBe(1.0 + 0.5 * 2.0);
    expect(p.integral).toBe(2.0);
    expect(p.update(0.2, 10, g)).toBe(1.0 + 0.5 * 4.0);
    expect(p.update(-0.1, 20, g)).toBe(1.0 + 0.5 * 2.0);
    expect(p.integral).toBe(2.0);
  });

  it("bounds the integral by integralLimit", () => {
    const g = gains(0, 1, 0, -100, 100, 2);
    const p = new PidController();
    expect(p.update(1, 10, g)).toBe(3.0);
    expect(p.integral).toBe(2.0);
    expect(p.update(1, 10, g)).toBe(3.0);
    expect(p.update(-1, 1, g)).toBe(2.0);
    expect(p.integral).toBe(1.0);
    expect(p.update(-1, 100, g)).toBe(-1.0);
    expect(p.integral).toBe(-2.0);
  });

  it("uses the derivative from the second step on", () => {
    const g = gains(0, 0, 1, -100, 100, 50);
    const p = new PidController();
    expect(p.update(0.5, 2, g)).toBe(1.0); // first step: no derivative
    expect(p.update(0.7, 2, g)).toBeCloseTo(1.1, 12);
    expect(p.update(0.7, 2, g)).toBe(1.0);
    expect(p.lastError).toBe(0.7);
  });

  it("does not wind up while saturated high: recovers at once when the error flips", () => {
    const g = STD;
    const p = new PidController();
    for (let i = 0; i < 1000; i++) expect(p.update(0.5, 60, g)).toBe(1.0);
    // conditional integration: nothing accumulated in the saturated direction
    expect(p.integral).toBe(0.0);
    let steps = 0;
    while (steps < 10 && p.update(-0.05, 60, g) >= g.maxMultiplier) steps++;
    expect(steps).toBeLessThanOrEqual(1);
    expect(p.multiplier).toBeLessThan(1.0);
    expect(p.multiplier).toBeGreaterThan(g.minMultiplier);
  });

  it("does not wind up while saturated low: recovers within a bounded number of steps", () => {
    const g = STD;
    const p = new PidController();
    for (let i = 0; i < 1000; i++) expect(p.update(-0.5, 60, g)).toBe(0.05);
    expect(p.integral).toBe(0.0);
    let steps = 0;
    while (steps < 10 && p.update(0.05, 60, g) <= g.minMultiplier) steps++;
    expect(steps).toBeLessThanOrEqual(1);
    expect(p.multiplier).toBeGreaterThan(0.05);
  });

  it("lets the integral unwind while saturated in the opposite direction", () => {
    const g = STD;
    const p = new PidController();
    p.integral = 40;
    // 1 - 0.04 + 0.02 * 39.4 > 1: saturated high, but the error is negative
    expect(p.update(-0.01, 60, g)).toBe(1.0);
    expect(p.integral).toBeCloseTo(39.4, 12);
    // positive error while saturated high: the integral is frozen
    expect(p.update(0.01, 60, g)).toBe(1.0);
    expect(p.integral).toBeCloseTo(39.4, 12);
    const q = new PidController();
    q.integral = -50;
    // 1 + 0.004 + 0.02 * -49.94 < 0.05: saturated low, positive error unwinds
    expect(q.update(0.001, 60, g)).toBe(0.05);
    expect(q.integral).toBeCloseTo(-49.94, 12);
    // negative error while saturated low: frozen
    expect(q.update(-0.001, 60, g)).toBe(0.05);
    expect(q.integral).toBeCloseTo(-49.94, 12);
  });

  it("ignores dt <= 0, NaN dt and non-finite errors (state unchanged)", () => {
    const g = gains(4, 0.5, 1, 0, 10, 50);
    const p = new PidController();
    const m = p.update(0.1, 1, g);
    const integral = p.integral;
    expect(p.update(0.5, 0, g)).toBe(m);
    expect(p.update(0.5, -1, g)).toBe(m);
    expect(p.update(0.5, NaN, g)).toBe(m);
    expect(p.update(NaN, 1, g)).toBe(m);
    expect(p.update(Infinity, 1, g)).toBe(m);
    expect(p.update(-Infinity, 1, g)).toBe(m);
    expect(p.integral).toBe(integral);
    expect(p.lastError).toBe(0.1);
    expect(p.multiplier).toBe(m);
  });

  // Regression: dt = +Infinity used to turn the integral and the multiplier into NaN for good.
  it("ignores an infinite dt instead of poisoning the state with NaN", () => {
    const g = new PidGains();
    const p = new PidController();
    p.update(0.0, Infinity, g);
    expect(p.multiplier).toBe(1.0);
    expect(p.update(0.01, 60, g)).not.toBeNaN();
  });

  it("reset() restores the initial state", () => {
    const g = STD;
    const p = new PidController();
    p.update(-0.2, 60, g);
    p.reset();
    expect(p.integral).toBe(0);
    expect(p.lastError).toBe(0);
    expect(p.multiplier).toBe(1.0);
    expect(p.initialised).toBe(false);
  });
});

describe("SpendPlan", () => {
  it("is flat by default: linear from 0 at midnight to 1 at the end of the day", () => {
    const s = new SpendPlan();
    expect(s.fractionAt(0)).toBe(0.0);
    expect(s.fractionAt(6 * HOUR_MS)).toBeCloseTo(0.25, 12);
    expect(s.fractionAt(12 * HOUR_MS)).toBeCloseTo(0.5, 12);
    expect(s.fractionAt(12 * HOUR_MS + 30 * 60000)).toBeCloseTo(12.5 / 24, 12);
    expect(s.fractionAt(DAY_MS - 1)).toBeLessThan(1.0);
    expect(s.fractionAt(DAY_MS)).toBe(1.0);
    expect(s.fractionAt(DAY_MS + 5)).toBe(1.0);
    expect(s.fractionAt(-5)).toBe(0.0);
  });

  it("finishes early when finishEarlyMs is set", () => {
    const s = new SpendPlan();
    s.finishEarlyMs = 2 * HOUR_MS;
    expect(s.fractionAt(0)).toBe(0.0);
    expect(s.fractionAt(11 * HOUR_MS)).toBeCloseTo(0.5, 12);
    expect(s.fractionAt(22 * HOUR_MS)).toBe(1.0);
    expect(s.fractionAt(23 * HOUR_MS)).toBe(1.0);
    expect(s.fractionAt(22 * HOUR_MS - 1000)).toBeLessThan(1.0);
  });

  it("follows hourly weights: cumulative at hour starts, linear within an hour", () => {
    const s = new SpendPlan();
    const w = new StaticArray<f64>(24);
    for (let h = 0; h < 24; h++) w[h] = <f64>(h + 1); // total 300
    expect(s.setHourlyWeights(w)).toBe(true);
    expect(s.cumulative[0]).toBe(0.0);
    expect(s.cumulative[1]).toBe(1.0 / 300.0);
    expect(s.cumulative[24]).toBe(1.0);
    for (let h = 0; h < 24; h++) {
      expect(s.cumulative[h]).toBeCloseTo(<f64>(h * (h + 1)) / 2.0 / 300.0, 12);
      // the middle of hour h is halfway between its ends
      const mid = s.fractionAt(<i64>h * HOUR_MS + HOUR_MS / 2);
      expect(mid).toBeCloseTo((s.cumulative[h] + s.cumulative[h + 1]) / 2.0, 9);
    }
    expect(s.fractionAt(23 * HOUR_MS)).toBeCloseTo(276.0 / 300.0, 9);
    expect(s.fractionAt(DAY_MS)).toBe(1.0);
  });

  it("is monotone, 0 at midnight and 1 at the end, even with zero-weight hours", () => {
    const s = new SpendPlan();
    const w = new StaticArray<f64>(24);
    for (let h = 0; h < 24; h++) w[h] = h < 6 ? 0.0 : h >= 18 ? 3.0 : 1.0;
    expect(s.setHourlyWeights(w)).toBe(true);
    s.finishEarlyMs = 30 * 60000;
    let prev: f64 = -1;
    let bad = 0;
    for (let t: i64 = 0; t <= DAY_MS; t += 60000) {
      const f = s.fractionAt(t);
      if (f < prev || f < 0 || f > 1) bad++;
      prev = f;
    }
    expect(bad).toBe(0);
    expect(s.fractionAt(0)).toBe(0.0);
    expect(s.fractionAt(5 * HOUR_MS)).toBe(0.0); // nothing planned before 6:00
    expect(s.fractionAt(DAY_MS - 30 * 60000)).toBe(1.0);
  });

  it("refuses unusable weights and keeps the previous plan", () => {
    const s = new SpendPlan();
    const good = new StaticArray<f64>(24);
    for (let h = 0; h < 24; h++) good[h] = h == 0 ? 1.0 : 0.0;
    expect(s.setHourlyWeights(good)).toBe(true);
    expect(s.fractionAt(HOUR_MS)).toBe(1.0);

    expect(s.setHourlyWeights(new StaticArray<f64>(23))).toBe(false);
    expect(s.setHourlyWeights(new StaticArray<f64>(25))).toBe(false);
    const zero = new StaticArray<f64>(24);
    expect(s.setHourlyWeights(zero)).toBe(false);
    const bads: f64[] = [-1.0, NaN, Infinity, -Infinity];
    for (let i = 0; i < bads.length; i++) {
      const w = new StaticArray<f64>(24);
      for (let h = 0; h < 24; h++) w[h] = 1.0;
      w[7] = bads[i];
      expect(s.setHourlyWeights(w)).toBe(false);
    }
    // unchanged: everything planned in the first hour
    expect(s.fractionAt(HOUR_MS / 2)).toBeCloseTo(0.5, 12);
    expect(s.fractionAt(HOUR_MS)).toBe(1.0);
    expect(s.cumulative[5]).toBe(1.0);
    s.setFlat();
    expect(s.fractionAt(12 * HOUR_MS)).toBeCloseTo(0.5, 12);
  });

  // Regression: finishEarlyMs >= one day used to give 0 / 0 = NaN.
  it("never returns NaN, even when finishEarlyMs covers the whole day", () => {
    const s = new SpendPlan();
    s.finishEarlyMs = DAY_MS;
    expect(s.fractionAt(0)).not.toBeNaN();
  });

  it("plans a dayparted campaign's budget over its own hours (fractionWithin)", () => {
    const s = new SpendPlan();
    const nineToNoon: u32 = (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12);
    const hour: i64 = DAY_MS / 24;
    expect(s.fractionWithin(8 * hour, nineToNoon)).toBe(0.0);
    expect(s.fractionWithin(9 * hour, nineToNoon)).toBe(0.0);
    expect(s.fractionWithin(10 * hour, nineToNoon)).toBeCloseTo(0.25);
    expect(s.fractionWithin(10 * hour + hour / 2, nineToNoon)).toBeCloseTo(0.375);
    expect(s.fractionWithin(13 * hour, nineToNoon)).toBeCloseTo(1.0);
    expect(s.fractionWithin(20 * hour, nineToNoon)).toBeCloseTo(1.0);
    // With hourly weights: hour 9 weighs 3 of the mask's 6.
    const w = new StaticArray<f64>(24);
    for (let h = 0; h < 24; h++) w[h] = 1;
    w[9] = 3;
    expect(s.setHourlyWeights(w)).toBe(true);
    expect(s.fractionWithin(10 * hour, nineToNoon)).toBeCloseTo(0.5);
    // Every hour is the whole day's plan; hours without planned weight fall back to it.
    expect(s.fractionWithin(10 * hour, 0xffffff)).toBeCloseTo(s.fractionAt(10 * hour));
    w[3] = 0;
    expect(s.setHourlyWeights(w)).toBe(true);
    expect(s.fractionWithin(10 * hour, 1 << 3)).toBeCloseTo(s.fractionAt(10 * hour));
  });
});
