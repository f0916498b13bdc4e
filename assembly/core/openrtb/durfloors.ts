// OpenRTB 2.6-202309 DurFloors (video, audio, deal): [{"mindur", "maxdur", "bidfloor"}, ...], a
// floor for ads whose duration lies in mindur–maxdur (inclusive; a missing end is unbounded). The
// request parser validates the array and keeps its text (imp.ts DurFloorsText); the decision reads
// it again for the creative it considers, with this module's reader (no allocation).
import { FieldReader, FIELD_ERROR } from "../json/fields";
import { FieldTable } from "../json/field-table";

const DURFLOOR_FIELDS = new FieldTable(["mindur", "maxdur", "bidfloor"]);
const I32_MAX: i64 = 2147483647;
const F64_MAX: f64 = 1.7976931348623157e308;

/** One entry as read. */
class DurFloorEntry {
  mindur: i32 = 0;
  hasMindur: bool = false;
  maxdur: i32 = 0;
  hasMaxdur: bool = false;
  bidfloor: f64 = 0;

  /** Reads one DurFloors object; false on a type or range error (the reader names it). */
  read(f: FieldReader): bool {
    this.hasMindur = false;
    this.hasMaxdur = false;
    this.bidfloor = 0;
    if (!f.beginObject()) return false;
    let k: i32;
    while ((k = f.nextField(DURFLOOR_FIELDS)) >= 0) {
      let ok = false;
      switch (k) {
        case 0: ok = f.readInt(0, I32_MAX); this.mindur = <i32>f.intValue; this.hasMindur = true; break;
        case 1: ok = f.readInt(0, I32_MAX); this.maxdur = <i32>f.intValue; this.hasMaxdur = true; break;
        case 2: ok = f.readNumber(0, F64_MAX); this.bidfloor = f.floatValue; break;
      }
      if (!ok) return false;
      f.endField();
    }
    return k != FIELD_ERROR;
  }

  holds(dur: i32): bool {
    return (!this.hasMindur || dur >= this.mindur) && (!this.hasMaxdur || dur <= this.maxdur);
  }
}

const entry = new DurFloorEntry();
/** Entries the last readDurFloors() read. */
export let durfloorsRead: i32 = 0;

/**
 * Reads a durfloors array at `f`'s position, each entry checked (a type or range error is named
 * by the reader): the highest bidfloor of the entries whose range holds `dur` seconds (0: none
 * does), or -1 on an error. The request parser reads it so to check it, the decision to price.
 */
export function readDurFloors(f: FieldReader, dur: i32): f64 {
  durfloorsRead = 0;
  if (!f.beginArray()) return -1;
  let floor: f64 = 0;
  let i = 0;
  while (f.nextElement(i)) {
    if (!entry.read(f)) return -1;
    if (entry.holds(dur) && entry.bidfloor > floor) floor = entry.bidfloor;
    f.endElement();
    i++;
  }
  durfloorsRead = i;
  return f.failed ? -1 : floor;
}

/**
 * Tolerant as the request parser may be: what it took, this reads again. A small scratch (for
 * escapes in keys, which no exchange sends): one that overflows it reads as unreadable (-1).
 */
const reader = tolerantReader();

function tolerantReader(): FieldReader {
  const f = new FieldReader(64, 3);
  f.tolerant = true;
  return f;
}

/** The floor for an ad of `dur` seconds in a validated durfloors array's text (DurFloorsText). */
export function durationFloorIn(ptr: usize, len: i32, dur: i32): f64 {
  reader.reset(ptr, len);
  return readDurFloors(reader, dur);
}
