// Calendar fields of a timestamp without a date library: day of week (0 =
// Sunday, as the iPinYou logs number it) and hour, in a fixed UTC offset.

/** Floor division for possibly negative values. */
@inline function floorDiv(a: i64, b: i64): i64 {
  const q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

export function localMinutes(timeMs: i64, utcOffsetMinutes: i32): i64 {
  return floorDiv(timeMs, 60000) + <i64>utcOffsetMinutes;
}

/** 0 = Sunday … 6 = Saturday (1970-01-01 was a Thursday). */
export function weekdayOf(timeMs: i64, utcOffsetMinutes: i32): i32 {
  const days = floorDiv(localMinutes(timeMs, utcOffsetMinutes), 1440);
  let w = <i32>((days + 4) % 7);
  if (w < 0) w += 7;
  return w;
}

export function hourOf(timeMs: i64, utcOffsetMinutes: i32): i32 {
  let m = <i32>(localMinutes(timeMs, utcOffsetMinutes) % 1440);
  if (m < 0) m += 1440;
  return m / 60;
}

/** Days since the epoch in the given offset (a day number for daily budgets). */
export function dayNumber(timeMs: i64, utcOffsetMinutes: i32): i64 {
  return floorDiv(localMinutes(timeMs, utcOffsetMinutes), 1440);
}

/** Milliseconds elapsed since local midnight. */
export function msIntoDay(timeMs: i64, utcOffsetMinutes: i32): i64 {
  const shifted = timeMs + <i64>utcOffsetMinutes * 60000;
  let r = shifted % 86400000;
  if (r < 0) r += 86400000;
  return r;
}
