// The day's spend plan: what fraction of the daily budget should be spent by a
// given time of day. Flat by default; or shaped by expected traffic per hour
// (e.g. the hour-of-day volumes of real logs), so that pacing spends where the
// impressions are. Within an hour the plan is linear.

/** Every hour of the day (SpendPlan.fractionWithin). */
export const ALL_HOURS: u32 = 0xffffff;

export class SpendPlan {
  /** Cumulative fraction at the start of each hour; [24] = 1. */
  readonly cumulative: StaticArray<f64> = new StaticArray<f64>(25);
  /** Plan ends this many ms before midnight, so the budget is spent by the end of the day. */
  finishEarlyMs: i64 = 0;

  constructor() {
    this.setFlat();
  }

  setFlat(): void {
    for (let h = 0; h <= 24; h++) unchecked((this.cumulative[h] = <f64>h / 24.0));
  }

  /** Sets the plan from 24 non-negative hourly weights; returns false (plan unchanged) if unusable. */
  setHourlyWeights(weights: StaticArray<f64>): bool {
    if (weights.length != 24) return false;
    let total: f64 = 0;
    for (let h = 0; h < 24; h++) {
      const v = unchecked(weights[h]);
      if (!(v >= 0) || !isFinite(v)) return false;
      total += v;
    }
    if (!(total > 0)) return false;
    let acc: f64 = 0;
    for (let h = 0; h < 24; h++) {
      unchecked((this.cumulative[h] = acc / total));
      acc += unchecked(weights[h]);
    }
    unchecked((this.cumulative[24] = 1.0));
    return true;
  }

  /** Planned fraction of the daily budget spent by msIntoDay (0 … 86_400_000). */
  fractionAt(msIntoDay: i64): f64 {
    return this.fractionWithin(msIntoDay, ALL_HOURS);
  }

  /**
   * The same for a campaign that bids only in some hours of the day (`hoursMask`: bit h for hour
   * h of this plan's day): the plan's weights of those hours alone, renormalised, so that its
   * budget is planned over the hours it can spend in (with the whole day's plan, a campaign of
   * 9-12 h was "ahead" from its first hour and shaded to the floor: about half its budget spent).
   * A mask that holds no planned weight falls back to the whole day.
   */
  fractionWithin(msIntoDay: i64, hoursMask: u32): f64 {
    const dayMs: f64 = <f64>(<i64>86400000 - this.finishEarlyMs);
    if (!(dayMs > 0)) return 1.0;
    let t = <f64>msIntoDay / dayMs; // 0..1 of the planned day
    if (t >= 1.0) return 1.0;
    if (t <= 0.0) return 0.0;
    const hours = t * 24.0;
    const h = <i32>hours;
    if (hoursMask == ALL_HOURS) {
      const a = unchecked(this.cumulative[h]);
      const b = unchecked(this.cumulative[h + 1]);
      return a + (b - a) * (hours - <f64>h);
    }
    let total: f64 = 0;
    let before: f64 = 0;
    for (let i = 0; i < 24; i++) {
      if ((hoursMask & (1 << i)) == 0) continue;
      const w = unchecked(this.cumulative[i + 1]) - unchecked(this.cumulative[i]);
      total += w;
      if (i < h) before += w;
      else if (i == h) before += w * (hours - <f64>h);
    }
    if (!(total > 0)) return this.fractionWithin(msIntoDay, ALL_HOURS);
    return before / total;
  }
}
