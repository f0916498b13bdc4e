// Ledger arithmetic and record encodings (assembly/core/ledger/*).
import { LedgerRecord, LEDGER_RECORD_SIZE } from "../core/ledger/ledger-record";
import { MAX_CAMPAIGN_ID, ReservationRecord, SlotState } from "../core/ledger/reservation-record";

function ledger(granted: i64): LedgerRecord {
  const l = new LedgerRecord();
  l.granted = granted;
  return l;
}

function filled(): LedgerRecord {
  const l = new LedgerRecord();
  l.granted = 1000000001;
  l.charged = 2;
  l.reserved = 3;
  l.day = 19723;
  l.dailyCharged = 5;
  l.wins = 6;
  l.lateWins = 7;
  l.lateCharged = 8;
  l.reservations = 9;
  l.refunded = -10;
  l.paused = 1;
  return l;
}

function expectSame(a: LedgerRecord, b: LedgerRecord): void {
  expect(a.granted).toBe(b.granted);
  expect(a.charged).toBe(b.charged);
  expect(a.reserved).toBe(b.reserved);
  expect(a.day).toBe(b.day);
  expect(a.dailyCharged).toBe(b.dailyCharged);
  expect(a.wins).toBe(b.wins);
  expect(a.lateWins).toBe(b.lateWins);
  expect(a.lateCharged).toBe(b.lateCharged);
  expect(a.reservations).toBe(b.reservations);
  expect(a.refunded).toBe(b.refunded);
  expect(a.paused).toBe(b.paused);
  expect(a.prevDay).toBe(b.prevDay);
  expect(a.prevDailyCharged).toBe(b.prevDailyCharged);
}

function expectEmpty(a: LedgerRecord): void {
  expectSame(a, new LedgerRecord());
}

describe("LedgerRecord encoding", () => {
  it("round-trips every field through 104 bytes", () => {
    expect(LEDGER_RECORD_SIZE).toBe(104);
    const buf = new ArrayBuffer(LEDGER_RECORD_SIZE);
    const p = changetype<usize>(buf);
    const a = filled();
    a.write(p);
    // magic "NXL1" then 4 zero bytes
    expect(load<u8>(p)).toBe(0x4e);
    expect(load<u8>(p, 1)).toBe(0x58);
    expect(load<u8>(p, 2)).toBe(0x4c);
    expect(load<u8>(p, 3)).toBe(0x31);
    expect(load<u32>(p, 4)).toBe(0); // no previous day kept
    expect(load<i64>(p, 8)).toBe(1000000001);
    expect(load<i64>(p, 88)).toBe(1);
    const b = new LedgerRecord();
    expect(b.read(p, LEDGER_RECORD_SIZE)).toBe(true);
    expectSame(b, a);
    expect(b.prevDay).toBe(-1);
  });

  it("keeps the previous day as a gap in days and its spend", () => {
    const buf = new ArrayBuffer(LEDGER_RECORD_SIZE);
    const p = changetype<usize>(buf);
    const a = filled();
    a.prevDay = a.day - 3;
    a.prevDailyCharged = 4242;
    a.write(p);
    expect(load<u32>(p, 4)).toBe(3);
    expect(load<i64>(p, 96)).toBe(4242);
    const b = new LedgerRecord();
    expect(b.read(p, LEDGER_RECORD_SIZE)).toBe(true);
    expect(b.prevDay).toBe(a.day - 3);
    expect(b.prevDailyCharged).toBe(4242);
  });

  it("reads the 96-byte layout of earlier builds as a record without a previous day", () => {
    const buf = new ArrayBuffer(LEDGER_RECORD_SIZE);
    const p = changetype<usize>(buf);
    const a = filled();
    a.prevDay = a.day - 1;
    a.prevDailyCharged = 9;
    a.write(p);
    const b = new LedgerRecord();
    expect(b.read(p, 96)).toBe(true);
    expect(b.dailyCharged).toBe(a.dailyCharged);
    expect(b.paused).toBe(a.paused);
    expect(b.prevDay).toBe(-1);
    expect(b.prevDailyCharged).toBe(0);
  });

  it("reads malformed bytes as an empty record", () => {
    const buf = new ArrayBuffer(LEDGER_RECORD_SIZE + 1);
    const p = changetype<usize>(buf);
    filled().write(p);
    const b = filled();
    expect(b.read(p, LEDGER_RECORD_SIZE - 1)).toBe(false);
    expectEmpty(b);
    const c = filled();
    expect(c.read(p, LEDGER_RECORD_SIZE + 1)).toBe(false);
    expectEmpty(c);
    const d = filled();
    expect(d.read(p, 0)).toBe(false);
    expectEmpty(d);
    store<u8>(p, 0x4f); // magic broken
    const e = filled();
    expect(e.read(p, LEDGER_RECORD_SIZE)).toBe(false);
    expectEmpty(e);
  });
});

describe("LedgerRecord.reserve", () => {
  it("grants up to the grant, partially at the end, then nothing", () => {
    const l = ledger(1000);
    expect(l.reserve(400, 0, 0, 1)).toBe(400);
    expect(l.reserve(400, 0, 0, 1)).toBe(400);
    expect(l.reserve(400, 0, 0, 1)).toBe(200); // partial
    expect(l.reserve(1, 0, 0, 1)).toBe(0);
    expect(l.reserved).toBe(1000);
    expect(l.reservations).toBe(3);
    expect(l.available(0, 0, 1)).toBe(0);
  });

  it("reserves nothing without a grant, for wanted <= 0, or when paused", () => {
    expect(ledger(0).reserve(10, 0, 0, 1)).toBe(0);
    const l = ledger(1000);
    expect(l.reserve(0, 0, 0, 1)).toBe(0);
    expect(l.reserve(-5, 0, 0, 1)).toBe(0);
    l.paused = 1;
    expect(l.reserve(10, 0, 0, 1)).toBe(0);
    expect(l.reserved).toBe(0);
    expect(l.reservations).toBe(0);
    l.paused = 0;
    expect(l.reserve(10, 0, 0, 1)).toBe(10);
  });

  it("applies the total cap below the grant (charged counts)", () => {
    const l = ledger(1000);
    l.charged = 500;
    expect(l.available(600, 0, 1)).toBe(100);
    expect(l.reserve(300, 600, 0, 1)).toBe(100);
    expect(l.reserve(1, 600, 0, 1)).toBe(0);
    // a total cap above the grant does not raise it
    const m = ledger(100);
    expect(m.reserve(500, 10000, 0, 1)).toBe(100);
  });

  it("counts owed charges (queued late charges) against the grant and both caps", () => {
    const l = ledger(1000);
    l.charged = 500;
    expect(l.available(0, 0, 1, 300)).toBe(200);
    expect(l.available(0, 0, 1, 500)).toBe(0);
    expect(l.reserve(100, 0, 0, 1, 500)).toBe(0);
    expect(l.available(0, 400, 1, 300)).toBe(100); // daily: nothing charged on day 1 yet, 300 owed
    expect(l.reserve(300, 0, 400, 1, 300)).toBe(100);
    expect(l.reserved).toBe(100);
  });

  it("applies the daily cap and rolls it over at a new day", () => {
    const l = ledger(10000);
    expect(l.reserve(700, 0, 1000, 5)).toBe(700);
    l.settle(700, 600, 5); // charged 600 today
    expect(l.dailyCharged).toBe(600);
    expect(l.available(0, 1000, 5)).toBe(400);
    expect(l.reserve(1000, 0, 1000, 5)).toBe(400);
    l.refund(400);
    // the next day: daily spend starts from 0 (total is unaffected)
    expect(l.available(0, 1000, 6)).toBe(1000);
    expect(l.reserve(2000, 0, 1000, 6)).toBe(1000);
    expect(l.day).toBe(6);
    expect(l.dailyCharged).toBe(0);
    expect(l.charged).toBe(600);
  });

  it("counts reservations carried over midnight against the new day", () => {
    const l = ledger(10000);
    expect(l.reserve(800, 0, 1000, 1)).toBe(800);
    expect(l.reserve(500, 0, 1000, 2)).toBe(200); // 800 still reserved from yesterday
    expect(l.dailyCharged + l.reserved).toBeLessThanOrEqual(1000);
  });

  it("available() never goes negative", () => {
    const l = ledger(100);
    l.charged = 150; // e.g. a late win
    expect(l.available(0, 0, 0)).toBe(0);
    expect(l.reserve(10, 0, 0, 0)).toBe(0);
    const m = ledger(1000);
    m.day = 3;
    m.dailyCharged = 2000;
    expect(m.available(0, 1000, 3)).toBe(0);
    expect(m.available(0, 1000, 4)).toBe(1000); // a later day: today's spend is 0
    expect(m.available(0, 1000, 2)).toBe(0); // an earlier day (the clock stepped back): still spent
  });
});

describe("LedgerRecord settle / refund / chargeLate", () => {
  it("settle charges the price and refunds the rest of the reservation", () => {
    const l = ledger(1000);
    l.reserve(300, 0, 0, 1);
    l.settle(300, 120, 1);
    expect(l.reserved).toBe(0);
    expect(l.charged).toBe(120);
    expect(l.dailyCharged).toBe(120);
    expect(l.refunded).toBe(180);
    expect(l.wins).toBe(1);
    expect(l.available(0, 0, 1)).toBe(880);
  });

  it("settle on a new day charges the new day", () => {
    const l = ledger(1000);
    l.reserve(300, 0, 0, 1);
    l.settle(100, 50, 1);
    expect(l.dailyCharged).toBe(50);
    l.settle(200, 70, 2);
    expect(l.day).toBe(2);
    expect(l.dailyCharged).toBe(70);
    expect(l.charged).toBe(120);
    expect(l.refunded).toBe(50 + 130);
  });

  it("refund releases the reservation; never below zero", () => {
    const l = ledger(1000);
    l.reserve(300, 0, 0, 1);
    l.refund(100);
    expect(l.reserved).toBe(200);
    expect(l.refunded).toBe(100);
    l.refund(500);
    expect(l.reserved).toBe(0);
    expect(l.refunded).toBe(600);
    expect(l.charged).toBe(0);
  });

  it("chargeLate charges and counts without touching reservations", () => {
    const l = ledger(1000);
    l.reserve(300, 0, 0, 1);
    l.chargeLate(40, 1);
    expect(l.reserved).toBe(300);
    expect(l.charged).toBe(40);
    expect(l.dailyCharged).toBe(40);
    expect(l.lateCharged).toBe(40);
    expect(l.lateWins).toBe(1);
    expect(l.wins).toBe(1);
    l.chargeLate(5, 9);
    expect(l.day).toBe(9);
    expect(l.dailyCharged).toBe(5);
    expect(l.lateCharged).toBe(45);
  });

  it("averageWinPrice averages the on-time wins only, and needs enough of them", () => {
    const l = ledger(1_000_000);
    for (let i = 0; i < 20; i++) {
      l.reserve(500, 0, 0, 1);
      l.settle(500, 300, 1);
    }
    expect(l.averageWinPrice(20)).toBe(300);
    expect(l.averageWinPrice(21)).toBe(0);
    // Late wins (cheap or dear) change neither the sum nor the count of on-time wins.
    for (let i = 0; i < 20; i++) l.chargeLate(100, 1);
    expect(l.wins).toBe(40);
    expect(l.averageWinPrice(20)).toBe(300);
    expect(ledger(1000).averageWinPrice(0)).toBe(0);
  });

  it("settleUnpriced moves the money as settle but stays out of averageWinPrice (a bid is no clearing price)", () => {
    const l = ledger(1_000_000);
    for (let i = 0; i < 20; i++) {
      l.reserve(500, 0, 0, 1);
      l.settle(500, 300, 1);
    }
    const charged = l.charged;
    for (let i = 0; i < 25; i++) {
      l.reserve(900, 0, 0, 1);
      l.settleUnpriced(900, 900, 1);
    }
    expect(l.reserved).toBe(0);
    expect(l.charged).toBe(charged + 25 * 900);
    expect(l.dailyCharged).toBe(charged + 25 * 900);
    expect(l.wins).toBe(45);
    expect(l.averageWinPrice(20)).toBe(300);
  });

  it("rollDay resets the daily spend only when the day moves forward", () => {
    const l = ledger(1000);
    l.day = 4;
    l.dailyCharged = 77;
    l.rollDay(4);
    expect(l.dailyCharged).toBe(77);
    // A clock that stepped back: the later day's spend still counts (never spend a day twice).
    l.rollDay(3);
    expect(l.day).toBe(4);
    expect(l.dailyCharged).toBe(77);
    expect(l.available(0, 100, 3)).toBe(23);
    l.rollDay(5);
    expect(l.day).toBe(5);
    expect(l.dailyCharged).toBe(0);
    expect(l.prevDay).toBe(4);
    expect(l.prevDailyCharged).toBe(77);
  });

  it("a clock that steps into tomorrow and back finds today's spend, and charges it to today", () => {
    const l = ledger(1_000_000);
    l.reserve(100, 0, 100, 4);
    l.settle(100, 100, 4); // day 4's cap is spent
    expect(l.available(0, 100, 4)).toBe(0);
    l.rollDay(5); // the clock is ahead for a moment (e.g. a grant is written then)
    expect(l.available(0, 100, 5)).toBe(100);
    // Back on day 4: still spent; what it charges there counts for day 4, not day 5.
    expect(l.available(0, 100, 4)).toBe(0);
    l.chargeLate(30, 4);
    expect(l.prevDailyCharged).toBe(130);
    expect(l.dailyCharged).toBe(0);
    // Day 5 really comes: its whole cap.
    expect(l.available(0, 100, 5)).toBe(100);
    l.reserve(60, 0, 100, 5);
    l.settle(60, 60, 5);
    expect(l.dailyChargedOn(5)).toBe(60);
    // Back on day 4 again, or on an older day: both days' spend counts (never less than the truth).
    expect(l.dailyChargedOn(4)).toBe(190);
    expect(l.dailyChargedOn(2)).toBe(190);
    l.rollDay(6);
    expect(l.prevDay).toBe(5);
    expect(l.prevDailyCharged).toBe(60);
    expect(l.dailyChargedOn(5)).toBe(60);
  });

  it("what a day spent while the clock was ahead counts when the clock comes back to it", () => {
    const l = ledger(1_000_000);
    l.reserve(30, 0, 100, 4);
    l.settle(30, 30, 4); // day 4: 30 of 100
    l.reserve(70, 0, 100, 5); // the clock a moment ahead: "day 5" spends 70
    l.settle(70, 70, 5);
    // Back on day 4: those 70 were spent on day 4 too (the clock was wrong): 0 left, not 70.
    expect(l.available(0, 100, 4)).toBe(0);
  });
});

/** Deterministic xorshift32 for the sequence test. */
class Rng {
  s: u32;
  constructor(seed: u32) {
    this.s = seed;
  }
  next(): u32 {
    let x = this.s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    this.s = x;
    return x;
  }
  below(n: u32): i64 {
    return <i64>(this.next() % n);
  }
}

function runSequence(seed: u32, ops: i32, granted: i64, totalCap: i64, dailyCap: i64): void {
  const rng = new Rng(seed);
  const l = ledger(granted);
  const live = new Array<i64>();
  let day: i64 = 100;
  let sumReserved: i64 = 0;
  let sumCharged: i64 = 0;
  let sumRefunded: i64 = 0;
  let outstanding: i64 = 0;
  let dayCharged: i64 = 0;
  let partial = 0;
  let refused = 0;
  let violation = "";
  for (let i = 0; i < ops; i++) {
    const op = rng.below(20);
    if (op < 10) {
      const wanted = 1 + rng.below(2000);
      const got = l.reserve(wanted, totalCap, dailyCap, day);
      if (violation.length == 0 && (got < 0 || got > wanted)) violation = "step " + i.toString() + ": reserve returned " + got.toString();
      if (got > 0) {
        live.push(got);
        sumReserved += got;
        outstanding += got;
        if (got < wanted) partial++;
      } else {
        refused++;
      }
    } else if (op < 14 && live.length > 0) {
      const k = <i32>rng.below(<u32>live.length);
      const amount = live[k];
      live[k] = live[live.length - 1];
      live.pop();
      const price = rng.below(<u32>amount + 1);
      l.settle(amount, price, day);
      sumCharged += price;
      sumRefunded += amount - price;
      dayCharged += price;
      outstanding -= amount;
    } else if (op < 18 && live.length > 0) {
      const k = <i32>rng.below(<u32>live.length);
      const amount = live[k];
      live[k] = live[live.length - 1];
      live.pop();
      l.refund(amount);
      sumRefunded += amount;
      outstanding -= amount;
    } else if (op == 18) {
      // the host raises the cumulative grant now and then
      if (rng.below(4) == 0) l.granted += 3000;
    } else if (op == 19 && rng.below(10) == 0) {
      day++;
      dayCharged = 0;
    }
    // bookkeeping is exact (checked without expect() per step: as-pect assertions are slow)
    if (violation.length == 0) {
      const hardLimit = totalCap > 0 && totalCap < l.granted ? totalCap : l.granted;
      if (l.reserved != outstanding) violation = "reserved " + l.reserved.toString() + " != " + outstanding.toString();
      else if (l.charged != sumCharged) violation = "charged " + l.charged.toString();
      else if (l.refunded != sumRefunded) violation = "refunded " + l.refunded.toString();
      else if (sumReserved != sumCharged + sumRefunded + outstanding) violation = "money not conserved";
      // the hard-cap invariants
      else if (l.charged + l.reserved > hardLimit) violation = "charged + reserved above " + hardLimit.toString();
      else if (dailyCap > 0 && l.day == day && l.dailyCharged != dayCharged) violation = "dailyCharged";
      else if (dailyCap > 0 && l.day == day && l.dailyCharged + l.reserved > dailyCap) violation = "daily cap";
      else if (l.available(totalCap, dailyCap, day) < 0) violation = "available < 0";
      if (violation.length > 0) violation = "step " + i.toString() + ": " + violation;
    }
  }
  expect(violation).toBe("");
  // the caps were actually reached and money moved (the test is not vacuous)
  expect(sumCharged).toBeGreaterThan(0);
  expect(l.reservations).toBeGreaterThan(100);
  expect(partial).toBeGreaterThan(0);
  expect(refused).toBeGreaterThan(0);
}

describe("LedgerRecord invariant under random sequences", () => {
  it("charged + reserved <= min(granted, total cap); daily cap holds (grant only)", () => {
    runSequence(12345, 4000, 50000, 0, 0);
  });
  it("with a total cap below the grant", () => {
    runSequence(987654321, 4000, 80000, 30000, 0);
  });
  it("with a daily cap and day rolls", () => {
    runSequence(42, 5000, 1000000, 0, 6000);
  });
  it("with all three caps", () => {
    runSequence(7, 5000, 200000, 150000, 9000);
  });
});

function sample(): ReservationRecord {
  const r = new ReservationRecord();
  r.state = SlotState.WON;
  r.nonce = 0xdeadbeef;
  r.seq = 0x0123456789abcdef;
  r.amountMicros = 2500;
  r.createdMs = 1704067200000;
  r.expiresMs = 1704067260000;
  r.priceMicros = 1999;
  const id = String.UTF8.encode("camp-é1");
  r.setCampaignId(changetype<usize>(id), id.byteLength);
  return r;
}

describe("ReservationRecord", () => {
  it("round-trips through HEADER + id bytes", () => {
    const a = sample();
    expect(a.campaignIdLen).toBe(8);
    expect(a.size).toBe(56);
    const buf = new ArrayBuffer(a.size);
    const p = changetype<usize>(buf);
    expect(a.write(p)).toBe(56);
    expect(load<u8>(p)).toBe(0x52);
    expect(load<u8>(p, 1)).toBe(SlotState.WON);
    expect(load<u16>(p, 2)).toBe(8);
    const b = new ReservationRecord();
    expect(b.read(p, 56)).toBe(true);
    expect(b.state).toBe(SlotState.WON);
    expect(b.nonce).toBe(0xdeadbeef);
    expect(b.seq).toBe(0x0123456789abcdef);
    expect(b.amountMicros).toBe(2500);
    expect(b.createdMs).toBe(1704067200000);
    expect(b.expiresMs).toBe(1704067260000);
    expect(b.priceMicros).toBe(1999);
    expect(b.campaignIdLen).toBe(8);
    expect(String.UTF8.decodeUnsafe(b.campaignId, 8)).toBe("camp-é1");
  });

  it("round-trips an empty campaign id", () => {
    const a = new ReservationRecord();
    a.state = SlotState.RESERVED;
    a.seq = 1;
    const buf = new ArrayBuffer(48);
    expect(a.write(changetype<usize>(buf))).toBe(48);
    const b = sample();
    expect(b.read(changetype<usize>(buf), 48)).toBe(true);
    expect(b.state).toBe(SlotState.RESERVED);
    expect(b.campaignIdLen).toBe(0);
    expect(b.priceMicros).toBe(0);
  });

  it("cuts campaign ids at MAX_CAMPAIGN_ID bytes", () => {
    let s = "";
    for (let i = 0; i < 70; i++) s += "x";
    const b = String.UTF8.encode(s);
    const r = new ReservationRecord();
    r.setCampaignId(changetype<usize>(b), b.byteLength);
    expect(r.campaignIdLen).toBe(MAX_CAMPAIGN_ID);
    expect(r.size).toBe(48 + 64);
  });

  it("reads malformed bytes as FREE", () => {
    const a = sample();
    const buf = new ArrayBuffer(a.size + 1);
    const p = changetype<usize>(buf);
    a.write(p);
    let r = sample();
    expect(r.read(p, 47)).toBe(false); // shorter than the header
    expect(r.state).toBe(SlotState.FREE);
    expect(r.seq).toBe(0);
    expect(r.campaignIdLen).toBe(0);
    r = sample();
    expect(r.read(p, a.size + 1)).toBe(false); // length disagrees with the id length
    expect(r.state).toBe(SlotState.FREE);
    r = sample();
    expect(r.read(p, a.size - 1)).toBe(false);
    expect(r.amountMicros).toBe(0);
    // id length above the maximum
    store<u16>(p, 65, 2);
    r = sample();
    expect(r.read(p, 48 + 65)).toBe(false);
    expect(r.state).toBe(SlotState.FREE);
    store<u16>(p, 8, 2);
    // bad magic
    store<u8>(p, 0x53);
    r = sample();
    expect(r.read(p, a.size)).toBe(false);
    expect(r.state).toBe(SlotState.FREE);
    expect(r.nonce).toBe(0);
    // restored: reads again
    store<u8>(p, 0x52);
    expect(r.read(p, a.size)).toBe(true);
  });

  it("the magic byte says which clock expiresMs is on, and a rewrite keeps it", () => {
    const p = heap.alloc(256);
    const a = new ReservationRecord();
    a.state = SlotState.RESERVED;
    a.expiresMs = 123;
    a.monotonicExpiry = true;
    const n = a.write(p);
    expect(load<u8>(p)).toBe(0x4d);
    const r = new ReservationRecord();
    expect(r.read(p, n)).toBe(true);
    expect(r.monotonicExpiry).toBe(true);
    // A record written before monotonic TTLs ('R'): read as a wall-clock expiry, rewritten as one.
    store<u8>(p, 0x52);
    expect(r.read(p, n)).toBe(true);
    expect(r.monotonicExpiry).toBe(false);
    r.state = SlotState.WON;
    r.write(p);
    expect(load<u8>(p)).toBe(0x52);
    r.clear();
    expect(r.monotonicExpiry).toBe(false);
  });

  it("only a slot holding money (RESERVED, or WON_PENDING: won, price unknown) is not reusable", () => {
    const r = new ReservationRecord();
    const states: u8[] = [SlotState.FREE, SlotState.WON, SlotState.LOST, SlotState.REFUNDED, SlotState.EXPIRED, SlotState.LATE_WON];
    for (let i = 0; i < states.length; i++) {
      r.state = states[i];
      expect(r.isReusable(0)).toBe(true);
    }
    r.state = SlotState.RESERVED;
    expect(r.isReusable(0)).toBe(false);
    expect(r.isReusable(i64.MAX_VALUE)).toBe(false);
    r.state = SlotState.WON_PENDING;
    expect(r.isReusable(0)).toBe(false);
  });
});
