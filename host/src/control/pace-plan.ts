// How fast the grants of a campaign must be able to come for the filter's spend plan to be
// followed: the lease refill (budget-redis.ts) runs at the flat daily pace times these factors.
// The filter plans a day by the plugin's pacing.hourly_weights, and a campaign with
// targeting.hours over those hours alone (assembly/core/pacing/spend-plan.ts fractionWithin,
// Campaign.budgetHoursMask): at the flat pace its busy hours, or its only hours, were throttled.

/** The plugin's spend plan as the host needs it: hourly weights (undefined: flat) and the budget's clock. */
export interface PacePlan {
  weights: number[] | undefined;
  utcOffsetMinutes: number;
}

/** The plugin's pacing.hourly_weights when the filter can use them (24 non-negative numbers, not all 0), else undefined. */
export function planWeights(plugin: Record<string, unknown>): number[] | undefined {
  const pacing = plugin.pacing;
  const w = pacing !== null && typeof pacing === "object" ? (pacing as Record<string, unknown>).hourly_weights : undefined;
  if (!Array.isArray(w) || w.length !== 24 || !w.every((x) => typeof x === "number" && Number.isFinite(x) && x >= 0)) return undefined;
  return (w as number[]).reduce((a, b) => a + b, 0) > 0 ? (w as number[]) : undefined;
}

/**
 * How much faster than the flat daily pace the plan runs in its busiest hour: 24 × that hour's
 * share of the weights (1 when flat or not given, or not usable: the filter then runs flat too).
 */
export function planPeakFactor(plugin: Record<string, unknown>): number {
  return peakOver(planWeights(plugin) ?? FLAT, ALL_HOURS);
}

/**
 * A campaign's factor on top of planPeakFactor: for one with targeting.hours, its busiest hour's
 * share of its hours' weights against the plan's busiest hour's share of the day (a campaign of 4
 * flat hours needs 6 times the flat pace in them); 1 without hours, never below 1.
 */
export function campaignPaceFactor(c: { targeting?: unknown }, plan: PacePlan): number {
  const t = c.targeting !== null && typeof c.targeting === "object" ? (c.targeting as Record<string, unknown>) : {};
  const hours = Array.isArray(t.hours) ? t.hours.filter((h): h is number => Number.isInteger(h) && h >= 0 && h < 24) : [];
  if (hours.length === 0) return 1;
  // Its hours on the budget's clock, as the filter maps them (Campaign.budgetHoursMask).
  const own = typeof t.daypart_utc_offset_minutes === "number" ? t.daypart_utc_offset_minutes : undefined;
  const shift = own === undefined ? 0 : Math.round((own - plan.utcOffsetMinutes) / 60);
  const mask = new Set(Array.from({ length: 24 }, (_, b) => b).filter((b) => hours.includes((((b + shift) % 24) + 24) % 24)));
  const w = plan.weights ?? FLAT;
  return Math.max(1, peakOver(w, mask) / peakOver(w, ALL_HOURS));
}

const FLAT = new Array<number>(24).fill(1);
const ALL_HOURS = new Set(Array.from({ length: 24 }, (_, h) => h));

/** 24 × the largest weight of `hours` over their sum (1 when they weigh nothing). */
function peakOver(w: readonly number[], hours: ReadonlySet<number>): number {
  let sum = 0;
  let max = 0;
  for (const h of hours) {
    sum += w[h]!;
    max = Math.max(max, w[h]!);
  }
  return sum > 0 ? (24 * max) / sum : 1;
}
