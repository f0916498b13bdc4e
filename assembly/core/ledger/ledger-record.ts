// The money state of one campaign in this pod, as a fixed 104-byte record that
// lives in proxy-wasm shared data and is changed only by CAS (read → apply one
// of the pure functions below → write with the CAS token → retry on mismatch).
// All amounts are integer micros. Invariant kept by reserve(): for the hard
// caps, charged + reserved never exceeds min(granted, total cap), and
// dailyCharged + reserved never exceeds the daily cap (late wins aside).

export const LEDGER_RECORD_SIZE: i32 = 104;
/** The layout before the previous day was kept (read as a record without one). */
const LEGACY_RECORD_SIZE: i32 = 96;
const MAGIC: u32 = 0x314c584e; // "NXL1"

// Field offsets.
/** u32: days from the previous day kept to DAY (0: none kept). */
const PREV_DAY_GAP: usize = 4;
const GRANTED: usize = 8;
const CHARGED: usize = 16;
const RESERVED: usize = 24;
const DAY: usize = 32;
const DAILY_CHARGED: usize = 40;
const WINS: usize = 48;
const LATE_WINS: usize = 56;
const LATE_CHARGED: usize = 64;
const RESERVATIONS: usize = 72;
const REFUNDED: usize = 80;
const PAUSED: usize = 88;
const PREV_DAILY_CHARGED: usize = 96;

export class LedgerRecord {
  granted: i64 = 0;
  charged: i64 = 0;
  reserved: i64 = 0;
  day: i64 = 0;
  dailyCharged: i64 = 0;
  wins: i64 = 0;
  /** Wins left out of the market-price estimate: late ones (chargeLate) and ones charged at the bid (settleUnpriced). */
  lateWins: i64 = 0;
  /** What those wins charged. */
  lateCharged: i64 = 0;
  reservations: i64 = 0;
  refunded: i64 = 0;
  paused: i64 = 0;
  /**
   * The day before `day` that had a daily spend, and that spend (prevDay -1: none). A wall clock
   * that steps ahead across midnight and back must find the spend of the day it returns to, and
   * what it charges there must not land on the later day (which would then start its real day
   * with spend it never had).
   */
  prevDay: i64 = -1;
  prevDailyCharged: i64 = 0;

  clear(): void {
    this.granted = 0;
    this.charged = 0;
    this.reserved = 0;
    this.day = 0;
    this.dailyCharged = 0;
    this.wins = 0;
    this.lateWins = 0;
    this.lateCharged = 0;
    this.reservations = 0;
    this.refunded = 0;
    this.paused = 0;
    this.prevDay = -1;
    this.prevDailyCharged = 0;
  }

  /** Decodes a record; false if the bytes are not a ledger record (the caller treats that as empty). */
  read(ptr: usize, len: i32): bool {
    if ((len != LEDGER_RECORD_SIZE && len != LEGACY_RECORD_SIZE) || load<u32>(ptr) != MAGIC) {
      this.clear();
      return false;
    }
    this.granted = load<i64>(ptr + GRANTED);
    this.charged = load<i64>(ptr + CHARGED);
    this.reserved = load<i64>(ptr + RESERVED);
    this.day = load<i64>(ptr + DAY);
    this.dailyCharged = load<i64>(ptr + DAILY_CHARGED);
    this.wins = load<i64>(ptr + WINS);
    this.lateWins = load<i64>(ptr + LATE_WINS);
    this.lateCharged = load<i64>(ptr + LATE_CHARGED);
    this.reservations = load<i64>(ptr + RESERVATIONS);
    this.refunded = load<i64>(ptr + REFUNDED);
    this.paused = load<i64>(ptr + PAUSED);
    const gap = len == LEDGER_RECORD_SIZE ? load<u32>(ptr + PREV_DAY_GAP) : 0;
    this.prevDay = gap != 0 ? this.day - <i64>gap : -1;
    this.prevDailyCharged = gap != 0 ? load<i64>(ptr + PREV_DAILY_CHARGED) : 0;
    return true;
  }

  write(ptr: usize): void {
    store<u32>(ptr, MAGIC);
    const gap = this.prevDay >= 0 ? this.day - this.prevDay : 0;
    const kept = gap > 0 && gap <= <i64>u32.MAX_VALUE;
    store<u32>(ptr + PREV_DAY_GAP, kept ? <u32>gap : 0);
    store<i64>(ptr + GRANTED, this.granted);
    store<i64>(ptr + CHARGED, this.charged);
    store<i64>(ptr + RESERVED, this.reserved);
    store<i64>(ptr + DAY, this.day);
    store<i64>(ptr + DAILY_CHARGED, this.dailyCharged);
    store<i64>(ptr + WINS, this.wins);
    store<i64>(ptr + LATE_WINS, this.lateWins);
    store<i64>(ptr + LATE_CHARGED, this.lateCharged);
    store<i64>(ptr + RESERVATIONS, this.reservations);
    store<i64>(ptr + REFUNDED, this.refunded);
    store<i64>(ptr + PAUSED, this.paused);
    store<i64>(ptr + PREV_DAILY_CHARGED, kept ? this.prevDailyCharged : 0);
  }

  /**
   * What counts against `today`'s daily cap: nothing on a later day; on the record's day its daily
   * spend; on an earlier day (a clock that stepped ahead across midnight and back, or a VM whose
   * clock is behind another's), the previous day's spend and the record's day's: a day the clock
   * returns to really spent both (what was charged "tomorrow" was charged while the clock was
   * wrong), so it can never spend its cap twice.
   */
  dailyChargedOn(today: i64): i64 {
    if (today > this.day) return 0;
    if (today == this.day) return this.dailyCharged;
    return this.prevDailyCharged + this.dailyCharged;
  }

  /**
   * Starts a new day for the daily cap when the day number moved forward, keeping the day it
   * leaves as the previous one. Never backwards: a wall clock that steps back across midnight
   * finds the day it returns to in prevDay (or, older still, dailyChargedOn's conservative rule).
   */
  rollDay(today: i64): void {
    if (today > this.day) {
      this.prevDay = this.day;
      this.prevDailyCharged = this.dailyCharged;
      this.day = today;
      this.dailyCharged = 0;
    }
  }

  /** Counts a charge against the daily cap of the day it is made on (see dailyChargedOn). */
  private chargeDaily(price: i64, today: i64): void {
    this.rollDay(today);
    if (today < this.day && today == this.prevDay) this.prevDailyCharged += price;
    else this.dailyCharged += price;
  }

  /**
   * Money this ledger may still reserve today: the hard caps (0 = no cap) and
   * the grant, minus what is charged and reserved. Never negative. `owed`:
   * charges the record does not show yet (a caller's queued late charges,
   * deferred-updates.ts); they count as charged today.
   */
  available(totalCap: i64, dailyCap: i64, today: i64, owed: i64 = 0): i64 {
    const dailyCharged = this.dailyChargedOn(today);
    let limit = this.granted;
    if (totalCap > 0 && totalCap < limit) limit = totalCap;
    let avail = limit - this.charged - owed - this.reserved;
    if (dailyCap > 0) {
      const d = dailyCap - dailyCharged - owed - this.reserved;
      if (d < avail) avail = d;
    }
    return avail > 0 ? avail : 0;
  }

  /** Reserves up to `wanted` micros; returns the amount reserved (0 = none). `owed`: as for available(). */
  reserve(wanted: i64, totalCap: i64, dailyCap: i64, today: i64, owed: i64 = 0): i64 {
    if (wanted <= 0 || this.paused != 0) return 0;
    this.rollDay(today);
    const avail = this.available(totalCap, dailyCap, today, owed);
    const amount = wanted < avail ? wanted : avail;
    if (amount <= 0) return 0;
    this.reserved += amount;
    this.reservations++;
    return amount;
  }

  /** A win for a live reservation: charge the clearing price, release the reservation. */
  settle(reservedAmount: i64, price: i64, today: i64): void {
    this.reserved -= reservedAmount;
    if (this.reserved < 0) this.reserved = 0;
    this.charged += price;
    this.chargeDaily(price, today);
    this.refunded += reservedAmount - price;
    this.wins++;
  }

  /**
   * A win charged at its bid because its notice's price was unusable (missing, unreadable, above
   * the bid): the money as settle(); for the market-price estimate, left out like a late win
   * (our own bid is no clearing price: averaging bids in would raise the estimate and make the
   * ROI guard refuse bids the market would clear lower).
   */
  settleUnpriced(reservedAmount: i64, price: i64, today: i64): void {
    this.settle(reservedAmount, price, today);
    this.lateWins++;
    this.lateCharged += price;
  }

  /** A reservation that ends without a charge (loss, floor, timeout, TTL). */
  refund(reservedAmount: i64): void {
    this.reserved -= reservedAmount;
    if (this.reserved < 0) this.reserved = 0;
    this.refunded += reservedAmount;
  }

  /**
   * The average clearing price of the wins charged on time at a clearing price (micros per
   * impression), 0 with fewer than `minWins` of them. Late wins and wins charged at the bid
   * (lateWins, lateCharged) are left out of both sums: `wins` counts them too, so dividing the
   * on-time charge by `wins` read low by the share of late wins.
   */
  averageWinPrice(minWins: i64): i64 {
    const onTime = this.wins - this.lateWins;
    return onTime >= minWins && onTime > 0 ? (this.charged - this.lateCharged) / onTime : 0;
  }

  /** A win that arrives after its reservation was refunded: still charged, and counted. */
  chargeLate(price: i64, today: i64): void {
    this.charged += price;
    this.chargeDaily(price, today);
    this.lateCharged += price;
    this.lateWins++;
    this.wins++;
  }
}
