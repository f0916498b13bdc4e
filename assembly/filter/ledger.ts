// The money, atomic across Envoy's worker VMs: per-campaign ledger records and
// a ring of reservation records in proxy-wasm shared data, changed only with
// bounded CAS loops (read value + cas → apply → write with cas → retry on
// CAS_MISMATCH). A reservation's record is the idempotency gate for notices:
// its state moves forward with one CAS before the ledger is touched, so a
// repeated or concurrent notice can never apply twice.
import { Status, log, LogLevel } from "../proxy-wasm";
import { BudgetPort } from "../core/bidding/budget-port";
import { Campaign, CampaignTable, OwnedBytes } from "../core/bidding/campaign";
import { ImpBid } from "../core/bidding/imp-bid";
import { NoBid } from "../core/bidding/reasons";
import { LedgerRecord, LEDGER_RECORD_SIZE } from "../core/ledger/ledger-record";
import { ReservationRecord, SlotState, isHeld } from "../core/ledger/reservation-record";
import { dayNumber } from "../core/features/time";
import { PidController } from "../core/pacing/pid";
import { readShared, writeShared, shared, fetchAddU64 } from "./shared";
import { KEY_RESV_CURSOR, SlotKey, LedgerKeyBuilder, ledgerKey, paceKey, paceStateKey } from "./keys";
import { metrics } from "./metrics";
import { randomNonce } from "./nonce";
import { monotonicMs } from "./monotonic";
import { DeferredLedgerUpdates } from "./deferred-updates";

/** What the filter keeps per campaign besides its configuration. */
export class CampaignRuntime {
  readonly ledgerKey: OwnedBytes;
  readonly paceKey: OwnedBytes;
  readonly paceStateKey: OwnedBytes;
  exhausted: bool = false;
  multiplier: f64 = 1.0;
  marketPriceMicros: i64 = 0;
  // Leader-only pacing state, published in shared data (pace-state.ts).
  readonly pid: PidController = new PidController();
  /** When the leader last paced it, on steadyMs() (monotonic.ts); 0: never. */
  lastPaceMs: i64 = 0;
  hourStartCharged: i64 = 0;
  hourNumber: i64 = -1;
  minuteStartCharged: i64 = 0;
  minuteNumber: i64 = -1;
  /** What the other pods charged on budget day `othersDay` (the last sync answer); -1: not known. */
  othersDay: i64 = -1;
  othersDailyCharged: i64 = 0;
  /** The same for the local hour and minute numbers (the soft caps). */
  othersHour: i64 = -1;
  othersHourlyCharged: i64 = 0;
  othersMinute: i64 = -1;
  othersMinuteCharged: i64 = 0;
  /** False until this VM, as leader, has read the published state (again after it regains leadership). */
  paceStateLoaded: bool = false;

  constructor(public readonly campaign: Campaign) {
    const id = campaign.id.toString();
    this.ledgerKey = ledgerKey(id);
    this.paceKey = paceKey(id);
    this.paceStateKey = paceStateKey(id);
  }
}

/** Outcome of a win or loss notice. */
export namespace NoticeResult {
  export const CHARGED: i32 = 0;
  export const REFUNDED: i32 = 1;
  export const LATE_CHARGED: i32 = 2;
  export const DUPLICATE: i32 = 3;
  export const UNKNOWN_BID: i32 = 4;
  export const CONTENTION: i32 = 6;
  /** Won, price unusable: the money stays reserved until a priced notice or the TTL (see win()). */
  export const PENDING: i32 = 7;
  /** LATE_CHARGED, at the bid (the notice's price was unusable). */
  export const LATE_CHARGED_AT_BID: i32 = 8;
}

/** A change to a campaign's ledger record (applyToLedger; queued as is in deferred-updates.ts). */
namespace LedgerOp {
  /** Hand back `amount` reserved. */
  export const REFUND: i32 = 0;
  /** A win: `amount` reserved becomes `price` charged. */
  export const SETTLE: i32 = 1;
  /** A win whose reservation was already refunded: `price` charged, nothing reserved. */
  export const LATE_CHARGE: i32 = 2;
  /** The host's grant: `granted` = `amount` (never below charged + reserved). */
  export const SET_GRANT: i32 = 3;
  /** SETTLE at the bid (the notice's price was unusable): left out of the market-price estimate. */
  export const SETTLE_UNPRICED: i32 = 4;
}

const recordBuf = heap.alloc(256);
const APPLIED: i32 = 0;
const MISSING: i32 = 1;
const GAVE_UP: i32 = 2;
/** The key holds bytes this version cannot read (e.g. a later record layout): left alone. */
const UNREADABLE: i32 = 3;

export class SharedLedger extends BudgetPort {
  runtimes: Array<CampaignRuntime> = new Array<CampaignRuntime>();
  readonly ledger: LedgerRecord = new LedgerRecord();
  readonly slot: ReservationRecord = new ReservationRecord();
  private readonly slotKey: SlotKey = new SlotKey();
  private readonly ledgerKeyBuf: LedgerKeyBuilder = new LedgerKeyBuilder();
  nowMs: i64 = 0;
  utcOffsetMinutes: i32 = 0;
  ttlMs: i64 = 120000;
  /** reservation_exp_max_ms: the longest hold an imp's exp may give a reservation (0: exp not used). */
  expMaxMs: i64 = 0;
  slots: u32 = 65536;
  retries: i32 = 32;
  /**
   * Sequence numbers this VM claimed from the shared cursor and has not used yet: [seqNext,
   * seqEnd). Claiming a block at a time saves two shared-data round trips (a read and a CAS
   * write of the cursor) on almost every bid; every number is still handed out once, so bid ids
   * stay unique across VMs. What a VM does not use (it is recycled) is skipped, like a slot never
   * written.
   */
  private seqNext: u64 = 0;
  private seqEnd: u64 = 0;
  /**
   * The last win() was the first notice of that win: it moved the reservation from live
   * (RESERVED) or ended (EXPIRED, LOST) to won. A repeated notice, or the priced notice of a win
   * already known (WON_PENDING), is not: what counts impressions (frequency caps) counts these.
   */
  firstWin: bool = false;
  /** Owed ledger changes whose CAS loop gave up (deferred-updates.ts). */
  readonly deferred: DeferredLedgerUpdates = new DeferredLedgerUpdates();

  /** Rebuilds the per-campaign state for a new campaign table (keeps nothing from the old one). */
  bindCampaigns(table: CampaignTable): void {
    const rts = new Array<CampaignRuntime>();
    for (let i = 0; i < table.size; i++) rts.push(new CampaignRuntime(table.at(i)));
    this.runtimes = rts;
  }

  /** The runtime of the campaign with this id, or null (cold path: sync answers). */
  runtimeById(idPtr: usize, idLen: i32): CampaignRuntime | null {
    for (let i = 0; i < this.runtimes.length; i++) {
      const rt = unchecked(this.runtimes[i]);
      const id = rt.campaign.id;
      if (id.len == idLen && memory.compare(id.ptr, idPtr, <usize>idLen) == 0) return rt;
    }
    return null;
  }

  @inline runtime(c: Campaign): CampaignRuntime {
    return unchecked(this.runtimes[c.index]);
  }

  @inline today(): i64 {
    return dayNumber(this.nowMs, this.utcOffsetMinutes);
  }

  // ---- BudgetPort -----------------------------------------------------------

  isExhausted(c: Campaign): bool {
    return c.index < this.runtimes.length && this.runtime(c).exhausted;
  }

  shading(c: Campaign): f64 {
    return c.index < this.runtimes.length ? this.runtime(c).multiplier : 1.0;
  }

  marketPriceMicros(c: Campaign): i64 {
    if (c.index < this.runtimes.length) {
      const m = this.runtime(c).marketPriceMicros;
      if (m > 0) return m;
    }
    return c.marketPriceCpmMicros / 1000;
  }

  reserve(c: Campaign, wanted: i64, bid: ImpBid): i64 {
    if (c.index >= this.runtimes.length) return 0;
    const rt = this.runtime(c);
    const amount = this.reserveInLedger(rt, wanted);
    if (amount <= 0) return 0;
    // The bid id's nonce authenticates its notices: it comes from the host's CSPRNG, not from
    // the engine's generator (whose state two bid ids give away: nonce.ts).
    const nonce = randomNonce();
    if (nonce < 0) metrics.inc(metrics.sharedDataErrors);
    else bid.nonce = <u32>nonce;
    const failure = nonce < 0 ? NoBid.CONTENTION : this.claimSlot(rt, amount, bid);
    if (failure != NoBid.NONE) {
      this.refundInLedger(rt, amount);
      this.lastFailure = failure;
      return 0;
    }
    metrics.inc(metrics.reservations);
    metrics.add(metrics.reservedMicros, amount);
    return amount;
  }

  refund(bid: ImpBid): void {
    const c = bid.campaign;
    if (c === null || !bid.reserved) return;
    if (this.transitionSlot(bid.seq, bid.nonce, SlotState.REFUNDED, 0) == SlotState.RESERVED) {
      this.applyForSlot(LedgerOp.REFUND, this.slot.amountMicros, 0);
      metrics.inc(metrics.refunds);
    }
    bid.reserved = false;
  }

  // ---- ledger CAS loops -------------------------------------------------------

  private reserveInLedger(rt: CampaignRuntime, wanted: i64): i64 {
    const c = rt.campaign;
    const owed = this.queuedLateCharges(rt);
    for (let attempt = 0; attempt < this.retries; attempt++) {
      if (attempt > 0) metrics.inc(metrics.casRetries);
      const st = readShared(rt.ledgerKey);
      if (st != Status.OK) {
        rt.exhausted = true; // no grant yet
        this.lastFailure = NoBid.BUDGET;
        return 0;
      }
      const cas = shared.cas;
      this.ledger.read(shared.ptr, shared.len);
      const amount = this.ledger.reserve(wanted, c.totalBudgetMicros, c.dailyBudgetMicros, this.today(), owed);
      if (amount <= 0) {
        rt.exhausted = true;
        this.lastFailure = NoBid.BUDGET;
        return 0;
      }
      this.ledger.write(recordBuf);
      const w = writeShared(rt.ledgerKey, recordBuf, LEDGER_RECORD_SIZE, cas);
      if (w == Status.OK) return amount;
      if (w != Status.CAS_MISMATCH) {
        metrics.inc(metrics.sharedDataErrors);
        break;
      }
    }
    metrics.inc(metrics.casGiveUps);
    this.lastFailure = NoBid.CONTENTION;
    return 0;
  }

  /**
   * op: a LedgerOp (REFUND amount, SETTLE amount at price, LATE_CHARGE price, SET_GRANT amount).
   * Returns APPLIED, MISSING (no ledger: nothing was ever reserved from it), UNREADABLE or GAVE_UP.
   */
  private applyToLedger(keyPtr: usize, keyLen: i32, op: i32, amount: i64, price: i64, retries: i32): i32 {
    for (let attempt = 0; attempt < retries; attempt++) {
      if (attempt > 0) metrics.inc(metrics.casRetries);
      const st = getSharedRaw(keyPtr, keyLen);
      let cas: u32 = 0;
      if (st == Status.OK) {
        cas = shared.cas;
        if (!this.ledger.read(shared.ptr, shared.len)) {
          // Writing our change over it would wipe its grant and charge history: refuse instead.
          metrics.inc(metrics.sharedDataErrors);
          return UNREADABLE;
        }
      } else {
        this.ledger.clear();
        if (op != LedgerOp.SET_GRANT) return MISSING;
      }
      const today = this.today();
      if (op == LedgerOp.REFUND) this.ledger.refund(amount);
      else if (op == LedgerOp.SETTLE) this.ledger.settle(amount, price, today);
      else if (op == LedgerOp.SETTLE_UNPRICED) this.ledger.settleUnpriced(amount, price, today);
      else if (op == LedgerOp.LATE_CHARGE) this.ledger.chargeLate(price, today);
      else {
        // A grant never takes back money already charged or reserved.
        const floor = this.ledger.charged + this.ledger.reserved;
        this.ledger.granted = amount > floor ? amount : floor;
        this.ledger.rollDay(today);
      }
      this.ledger.write(recordBuf);
      const w = setSharedRaw(keyPtr, keyLen, recordBuf, LEDGER_RECORD_SIZE, cas);
      if (w == Status.OK) return APPLIED;
      if (w != Status.CAS_MISMATCH) break;
    }
    metrics.inc(metrics.casGiveUps);
    return GAVE_UP;
  }

  /**
   * A change the ledger owes (a reservation record already moved, or a reservation to hand back):
   * retried hard, and when even that gives up, queued and applied on a later tick instead of lost.
   */
  private applyOwed(keyPtr: usize, keyLen: i32, op: i32, amount: i64, price: i64): void {
    const r = this.applyToLedger(keyPtr, keyLen, op, amount, price, this.retries * 8);
    if (r == UNREADABLE) {
      // Retrying does not make another layout readable: the change is lost to this VM.
      ledgerUpdateLost(op, amount, price, "ledger record unreadable");
      return;
    }
    if (r != GAVE_UP) return;
    if (this.deferred.push(keyPtr, keyLen, op, amount, price)) {
      metrics.inc(metrics.ledgerDeferred);
    } else {
      ledgerUpdateLost(op, amount, price, "deferred queue full");
    }
  }

  /** Applies the queued changes (every VM, every tick); what still does not go through stays queued. */
  retryDeferred(): void {
    const q = this.deferred;
    let i = 0;
    while (i < q.count) {
      const r = this.applyToLedger(q.keyPtr(i), q.keyLen(i), q.op(i), q.amount(i), q.price(i), this.retries * 8);
      if (r == GAVE_UP) {
        i++;
        continue;
      }
      if (r == UNREADABLE) ledgerUpdateLost(q.op(i), q.amount(i), q.price(i), "ledger record unreadable");
      else metrics.inc(metrics.ledgerRecovered);
      q.remove(i);
    }
  }

  /**
   * The late charges this VM has queued for the campaign's ledger: the ledger does not show them
   * until a tick applies them, so this VM's bids count them as spent (else they could reserve that
   * money again). Queued settles and refunds need nothing: their reservation still holds the money.
   * No host call; the scan runs only while something is queued.
   */
  private queuedLateCharges(rt: CampaignRuntime): i64 {
    const q = this.deferred;
    return q.count == 0 ? 0 : q.sumPrices(rt.ledgerKey.ptr, rt.ledgerKey.len, LedgerOp.LATE_CHARGE);
  }

  /** Hands a reservation back (bid not sent): owed like a notice's change. */
  private refundInLedger(rt: CampaignRuntime, amount: i64): void {
    this.applyOwed(rt.ledgerKey.ptr, rt.ledgerKey.len, LedgerOp.REFUND, amount, 0);
  }

  /** Applies the host's cumulative grant for a campaign id (its ledger is created if needed). */
  setGrantById(idPtr: usize, idLen: i32, grantedTotal: i64): bool {
    this.ledgerKeyBuf.build(idPtr, idLen);
    return this.applyToLedger(this.ledgerKeyBuf.buf, this.ledgerKeyBuf.len, LedgerOp.SET_GRANT, grantedTotal, 0, this.retries * 8) == APPLIED;
  }

  setGrant(rt: CampaignRuntime, grantedTotal: i64): bool {
    return this.applyToLedger(rt.ledgerKey.ptr, rt.ledgerKey.len, LedgerOp.SET_GRANT, grantedTotal, 0, this.retries * 8) == APPLIED;
  }

  // ---- reservation ring --------------------------------------------------------

  /**
   * Numbers per cursor claim: 64, or fewer on a small ring (at least 256 blocks per lap), so that
   * VMs working through their own blocks still spread over the whole ring.
   */
  @inline private seqBlock(): u64 {
    const b = this.slots >> 8;
    return b >= 64 ? 64 : b > 0 ? <u64>b : 1;
  }

  /** The next reservation sequence number, or -1 when the shared cursor could not be advanced. */
  private nextSeq(): i64 {
    if (this.seqNext >= this.seqEnd) {
      const block = this.seqBlock();
      const first = fetchAddU64(KEY_RESV_CURSOR, block, this.retries);
      if (first < 0) return -1;
      this.seqNext = <u64>first;
      this.seqEnd = <u64>first + block;
    }
    const seq = this.seqNext;
    this.seqNext = seq + 1;
    return <i64>seq;
  }

  /**
   * How long a reservation is held without a notice: reservation_ttl_ms, or longer when the
   * exchange said billing may come later (imp.exp, OpenRTB 2.6 §7.2: cached mobile ads, minutes;
   * interstitials, up to half an hour), up to reservation_exp_max_ms. A late win after the hold is
   * still charged (late_charged), but its money may have been spent again meanwhile. Off by
   * default: every held slot stays taken as long, so an exchange sending a long exp on every imp
   * would fill a ring sized for the TTL (ring_full); the operator sizes reservation_slots for it.
   */
  private holdFor(bid: ImpBid): i64 {
    const hold = bid.holdMs < this.expMaxMs ? bid.holdMs : this.expMaxMs;
    return hold > this.ttlMs ? hold : this.ttlMs;
  }

  /**
   * Writes the bid's reservation record into its ring slot. Returns NoBid.NONE, NoBid.RING_FULL
   * (the slot still holds a live reservation: the ring is too small for the bid rate, which the
   * operator fixes with reservation_slots) or NoBid.CONTENTION (a racing writer, a stale block,
   * a shared-data error).
   */
  private claimSlot(rt: CampaignRuntime, amount: i64, bid: ImpBid): i32 {
    let seq: i64 = -1;
    let cas: u32 = 0;
    // The TTL runs on the monotonic clock (monotonic.ts); a host without one: the wall clock.
    const mono = monotonicMs();
    // Two tries: numbers left over from a block this VM claimed long ago can be behind the ring
    // (other VMs went a whole lap further meanwhile). Overwriting the newer record there would
    // lose it: a late win for it would no longer be found and charged. Such a block is dropped
    // and a fresh one claimed.
    for (let attempt = 0; attempt < 2; attempt++) {
      seq = this.nextSeq();
      if (seq < 0) {
        metrics.inc(metrics.sharedDataErrors);
        return NoBid.CONTENTION;
      }
      this.slotKey.build(<u32>(<u64>seq % <u64>this.slots));
      cas = 0;
      if (readShared2(this.slotKey) != Status.OK) break; // never used
      cas = shared.cas;
      if (!this.slot.read(shared.ptr, shared.len)) {
        // Not a record this version can read (e.g. a later layout): it may be a live reservation.
        metrics.inc(metrics.sharedDataErrors);
        return NoBid.CONTENTION;
      }
      if (this.slot.seq > <u64>seq) {
        this.seqNext = this.seqEnd; // stale block
        if (attempt == 0) continue;
        return NoBid.CONTENTION;
      }
      if (isHeld(this.slot.state)) {
        // Ring full: the slot still holds a live reservation from one lap ago.
        if (!this.pastTtl(mono)) return NoBid.RING_FULL;
        // Past its TTL, but the leader's sweep (a slice of the ring per tick) has not reached it
        // yet: expire it here as the sweep would, so that a ring sized at bids per TTL is not
        // short by the sweep's lag. Then take the slot as any other ended reservation's.
        if (this.expireHeld() < 0) return NoBid.CONTENTION;
        if (readShared2(this.slotKey) != Status.OK || !this.slot.read(shared.ptr, shared.len)) return NoBid.CONTENTION;
        if (this.slot.seq > <u64>seq || isHeld(this.slot.state)) return NoBid.CONTENTION; // another VM took it meanwhile
        cas = shared.cas;
      }
      break;
    }
    const s = this.slot;
    s.clear();
    s.state = SlotState.RESERVED;
    s.seq = <u64>seq;
    s.nonce = bid.nonce;
    s.amountMicros = amount;
    s.createdMs = this.nowMs;
    s.monotonicExpiry = mono >= 0;
    s.expiresMs = (mono >= 0 ? mono : this.nowMs) + this.holdFor(bid);
    s.setCampaignId(rt.campaign.id.ptr, rt.campaign.id.len);
    const n = s.write(recordBuf);
    const st2 = setShared2(this.slotKey, recordBuf, n, cas);
    if (st2 != Status.OK) {
      // CAS_MISMATCH: a racing writer (safe: fail this bid). Anything else: the host's store is full.
      if (st2 != Status.CAS_MISMATCH) metrics.inc(metrics.sharedDataErrors);
      return NoBid.CONTENTION;
    }
    bid.seq = <u64>seq;
    return NoBid.NONE;
  }

  /**
   * Moves the reservation (seq, nonce) to `to` if it is in a state that allows
   * it, recording `price`. Returns the state it was in before (the record is
   * left in this.slot), SlotState.FREE if unknown, or 255 on CAS give-up.
   */
  transitionSlot(seq: u64, nonce: u32, to: u8, price: i64): u8 {
    this.slotKey.build(<u32>(seq % <u64>this.slots));
    for (let attempt = 0; attempt < this.retries * 4; attempt++) {
      if (readShared2(this.slotKey) != Status.OK) return SlotState.FREE;
      const cas = shared.cas;
      const s = this.slot;
      if (!s.read(shared.ptr, shared.len) || s.seq != seq || s.nonce != nonce) return SlotState.FREE;
      const from = s.state;
      if (!allowed(from, to)) return from;
      s.state = to;
      s.priceMicros = price;
      const n = s.write(recordBuf);
      const w = setShared2(this.slotKey, recordBuf, n, cas);
      if (w == Status.OK) {
        s.state = from; // report the previous state; amount and campaign stay readable
        return from;
      }
      if (w != Status.CAS_MISMATCH) break;
      metrics.inc(metrics.casRetries);
    }
    metrics.inc(metrics.casGiveUps);
    return 255;
  }

  /**
   * Applies a ledger operation for the campaign recorded in this.slot. The key
   * is built from the slot's campaign id, not from the current campaign table,
   * so a notice still lands after its campaign was removed from configuration.
   */
  private applyForSlot(op: i32, amount: i64, price: i64): void {
    this.ledgerKeyBuf.build(this.slot.campaignId, this.slot.campaignIdLen);
    this.applyOwed(this.ledgerKeyBuf.buf, this.ledgerKeyBuf.len, op, amount, price);
  }

  // ---- notices ------------------------------------------------------------------

  /**
   * A win (nurl or burl) at `price` micros per impression. A price below 0 (the notice's price
   * could not be read: removed, an unsubstituted or encoded macro) or above the bid (no auction
   * clears there: an exchange error) is unusable: the win happened, so the money must not be
   * refunded, but its price is unknown. A live reservation then waits, still reserved
   * (WON_PENDING), for a notice with a usable price (an exchange may price only its burl), and is
   * charged at the bid (the most a first- or second-price auction can cost) at its TTL
   * (expireHeld). A reservation already refunded is charged at the bid at once (late).
   */
  win(seq: u64, nonce: u32, price: i64): i32 {
    this.firstWin = false;
    this.slotKey.build(<u32>(seq % <u64>this.slots));
    if (readShared2(this.slotKey) != Status.OK) return NoticeResult.UNKNOWN_BID;
    if (!this.slot.read(shared.ptr, shared.len) || this.slot.seq != seq || this.slot.nonce != nonce) {
      return NoticeResult.UNKNOWN_BID;
    }
    const unpriced = price < 0 || price > this.slot.amountMicros;

    let from = this.transitionSlot(seq, nonce, unpriced ? SlotState.WON_PENDING : SlotState.WON, unpriced ? 0 : price);
    if (from == SlotState.FREE) return NoticeResult.UNKNOWN_BID;
    if (from == 255) return NoticeResult.CONTENTION;
    // From WON_PENDING: an unpriced notice again leaves it pending; a priced one settles it.
    if (isHeld(from)) {
      this.firstWin = from == SlotState.RESERVED;
      if (unpriced) {
        // Counted once per win, when it first waits for a price (not again for a second unpriced
        // notice, nor for one about a win already settled).
        if (this.firstWin) metrics.inc(metrics.noticeInvalid);
        return NoticeResult.PENDING;
      }
      this.settleWin(LedgerOp.SETTLE, price);
      return NoticeResult.CHARGED;
    }
    if (from == SlotState.EXPIRED || from == SlotState.LOST) {
      // The reservation was already refunded: the impression still cost money.
      const charge = unpriced ? this.slot.amountMicros : price;
      from = this.transitionSlot(seq, nonce, SlotState.LATE_WON, charge);
      if (from == SlotState.EXPIRED || from == SlotState.LOST) {
        this.firstWin = true;
        this.applyForSlot(LedgerOp.LATE_CHARGE, 0, charge);
        // A charged win as the ledger counts it (its `wins`): nexus_wins_total counts late ones too.
        metrics.inc(metrics.wins);
        metrics.inc(metrics.lateWins);
        metrics.add(metrics.spendMicros, charge);
        if (unpriced) {
          metrics.inc(metrics.noticeInvalid);
          metrics.inc(metrics.winsChargedAtBid);
        }
        return unpriced ? NoticeResult.LATE_CHARGED_AT_BID : NoticeResult.LATE_CHARGED;
      }
      // Not charged: answering "already settled" would stop the exchange from sending it again.
      if (from == 255) return NoticeResult.CONTENTION; // retryable (503)
      if (from == SlotState.FREE) return NoticeResult.UNKNOWN_BID; // the slot went to another bid meanwhile
    }
    return NoticeResult.DUPLICATE;
  }

  /** Settles the reservation in this.slot as a win charged `price` (op: SETTLE or SETTLE_UNPRICED). */
  private settleWin(op: i32, price: i64): void {
    this.applyForSlot(op, this.slot.amountMicros, price);
    metrics.inc(metrics.wins);
    metrics.add(metrics.spendMicros, price);
  }

  /** A loss notice: releases the reservation. */
  loss(seq: u64, nonce: u32): i32 {
    const from = this.transitionSlot(seq, nonce, SlotState.LOST, 0);
    if (from == SlotState.FREE) return NoticeResult.UNKNOWN_BID;
    if (from == 255) return NoticeResult.CONTENTION;
    if (from != SlotState.RESERVED) return NoticeResult.DUPLICATE;
    this.applyForSlot(LedgerOp.REFUND, this.slot.amountMicros, 0);
    metrics.inc(metrics.losses);
    metrics.inc(metrics.refunds);
    return NoticeResult.REFUNDED;
  }

  /**
   * Expires reservations past their TTL in `count` ring slots starting at
   * `start` (the leader walks the whole ring, a slice per tick). Returns how
   * many were expired.
   */
  sweep(start: u32, count: u32): i32 {
    let expired = 0;
    const mono = monotonicMs();
    for (let i: u32 = 0; i < count; i++) {
      // Thousands of reads in one tick overflow the host-copy arena: hand the last one back before
      // the next, so the heap holds one slot record at a time, not thousands until the tick ends.
      if (i > 0) shared.release();
      const idx = (start + i) % this.slots;
      this.slotKey.build(idx);
      if (readShared2(this.slotKey) != Status.OK) continue;
      if (!this.slot.read(shared.ptr, shared.len)) continue;
      if (!isHeld(this.slot.state) || !this.pastTtl(mono)) continue;
      if (this.expireHeld() == 1) expired++;
    }
    return expired;
  }

  /** Whether the reservation read into this.slot is past its TTL (`mono`: monotonicMs()). */
  private pastTtl(mono: i64): bool {
    const monotonic = this.slot.monotonicExpiry;
    if (monotonic && mono < 0) return false; // cannot happen: the host had the clock when it was written
    return this.slot.expiresMs <= (monotonic ? mono : this.nowMs);
  }

  /**
   * Expires the reservation read into this.slot (past its TTL) and refunds its amount to its
   * campaign's ledger. Returns 1 when this call expired it, 0 when it had already moved on (a
   * notice, another VM's expiry), -1 when the CAS loop gave up.
   */
  private expireHeld(): i32 {
    // A won reservation waiting for its price (WON_PENDING) is charged at the bid; a plain one refunded.
    if (this.slot.state == SlotState.WON_PENDING) {
      const amount = this.slot.amountMicros;
      const from = this.transitionSlot(this.slot.seq, this.slot.nonce, SlotState.WON, amount);
      if (from == 255) return -1;
      if (from != SlotState.WON_PENDING) return 0;
      this.settleWin(LedgerOp.SETTLE_UNPRICED, amount);
      metrics.inc(metrics.winsChargedAtBid);
      return 1;
    }
    const from = this.transitionSlot(this.slot.seq, this.slot.nonce, SlotState.EXPIRED, 0);
    if (from == 255) return -1;
    if (from != SlotState.RESERVED) return 0;
    this.applyForSlot(LedgerOp.REFUND, this.slot.amountMicros, 0);
    metrics.inc(metrics.expired);
    metrics.inc(metrics.refunds);
    return 1;
  }

  /** Re-reads a campaign's ledger: exhausted flag and market price estimate (every VM, every tick). */
  refresh(rt: CampaignRuntime): void {
    if (readShared(rt.ledgerKey) != Status.OK) {
      rt.exhausted = true;
      return;
    }
    this.ledger.read(shared.ptr, shared.len);
    const c = rt.campaign;
    rt.exhausted = this.ledger.available(c.totalBudgetMicros, c.dailyBudgetMicros, this.today(), this.queuedLateCharges(rt)) <= 0;
    // Average clearing price once there are enough wins to trust it.
    rt.marketPriceMicros = this.ledger.averageWinPrice(20);
  }
}

/** Counts and logs an owed ledger change that will never be applied (cold path). */
function ledgerUpdateLost(op: i32, amount: i64, price: i64, why: string): void {
  metrics.inc(metrics.ledgerLost);
  log(LogLevel.ERROR, "nexus: ledger update lost (op " + op.toString() + ", " + amount.toString() + "/" + price.toString() + " micros): " + why);
}

/** Forward-only state machine of a reservation. */
function allowed(from: u8, to: u8): bool {
  if (from == SlotState.RESERVED) return to != SlotState.RESERVED && to != SlotState.LATE_WON;
  if (from == SlotState.WON_PENDING) return to == SlotState.WON;
  if (from == SlotState.EXPIRED || from == SlotState.LOST) return to == SlotState.LATE_WON;
  return false;
}

@inline function readShared2(k: SlotKey): u32 {
  return getSharedRaw(k.buf, k.len);
}

@inline function setShared2(k: SlotKey, ptr: usize, len: i32, cas: u32): u32 {
  return setSharedRaw(k.buf, k.len, ptr, len, cas);
}

import { getSharedData, setSharedData } from "../proxy-wasm";

@inline function getSharedRaw(kp: usize, kl: i32): u32 {
  return getSharedData(kp, kl, shared);
}

@inline function setSharedRaw(kp: usize, kl: i32, vp: usize, vl: i32, cas: u32): u32 {
  return setSharedData(kp, kl, vp, vl, cas);
}
