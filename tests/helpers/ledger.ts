// Reads the filter's shared-data money records from the host side (tests only).
// Layout: assembly/core/ledger/ledger-record.ts (104 bytes, little-endian i64 fields; a previous day's spend at 96, its distance in days at 4).
import type { SharedDataStore } from "../../host/src/proxy-wasm/shared-data.ts";

export interface Ledger {
  granted: bigint;
  charged: bigint;
  reserved: bigint;
  day: bigint;
  dailyCharged: bigint;
  wins: bigint;
  lateWins: bigint;
  lateCharged: bigint;
  reservations: bigint;
  refunded: bigint;
  /** The previous day kept (-1n: none) and its daily spend. */
  prevDay: bigint;
  prevDailyCharged: bigint;
}

export function decodeLedger(bytes: Uint8Array): Ledger {
  if (bytes.byteLength !== 104 && bytes.byteLength !== 96) throw new Error(`ledger record of ${bytes.byteLength} bytes`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (v.getUint32(0, true) !== 0x314c584e) throw new Error("not a ledger record");
  const at = (o: number) => v.getBigInt64(o, true);
  return {
    granted: at(8), charged: at(16), reserved: at(24), day: at(32), dailyCharged: at(40),
    wins: at(48), lateWins: at(56), lateCharged: at(64), reservations: at(72), refunded: at(80),
    prevDay: v.getUint32(4, true) === 0 ? -1n : at(32) - BigInt(v.getUint32(4, true)),
    prevDailyCharged: bytes.byteLength === 104 ? at(96) : 0n,
  };
}

export function readLedger(shared: SharedDataStore, campaignId: string): Ledger | undefined {
  const v = shared.get(`nexus/v1/ledger/${campaignId}`);
  return v ? decodeLedger(v.value) : undefined;
}

/** Micros per impression of a CPM decimal string, rounded up (as the filter does). */
export function cpmToMicros(price: string): bigint {
  const [int, frac = ""] = price.split(".");
  const nano = BigInt(int!) * 1_000_000_000_000n + BigInt((frac + "000000000").slice(0, 9)) * 1000n;
  return (nano + 999_999_999n) / 1_000_000_000n;
}
