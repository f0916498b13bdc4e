// Exchange rates into the account currency, from configuration. A floor in a
// currency we have no rate for makes the impression unbiddable (we cannot
// know whether our bid clears it).
import { Str, bytesEqualIgnoreAsciiCase } from "../bytes/str";
import { OwnedBytes } from "./campaign";

export class CurrencyTable {
  readonly codes: Array<OwnedBytes> = new Array<OwnedBytes>();
  readonly rates: Array<f64> = new Array<f64>();

  /** 1 unit of `code` = `rate` units of the account currency (a code set again takes the new rate). */
  set(code: string, rate: f64): void {
    const bytes = OwnedBytes.fromString(code);
    const i = this.indexOf(bytes.ptr, bytes.len);
    if (i >= 0) {
      unchecked((this.rates[i] = rate));
      return;
    }
    this.codes.push(bytes);
    this.rates.push(rate);
  }

  /**
   * Rate from `code` to the account currency; 1 for the account currency itself; 0 if unknown.
   * Codes match up to ASCII case: "usd" is USD (ISO 4217 has no two codes that differ by case).
   */
  rateToAccount(code: Str, account: Str): f64 {
    if (code.len == 0 || code.equalsIgnoreAsciiCase(account)) return 1.0;
    const i = this.indexOf(code.ptr, code.len);
    return i >= 0 ? unchecked(this.rates[i]) : 0.0;
  }

  /** The rate given for the code whose bytes are [ptr, ptr+len), or 0 when none is. */
  rateOf(ptr: usize, len: i32): f64 {
    const i = this.indexOf(ptr, len);
    return i >= 0 ? unchecked(this.rates[i]) : 0.0;
  }

  /** Index of the code whose bytes are [ptr, ptr+len), or -1. */
  @inline private indexOf(ptr: usize, len: i32): i32 {
    for (let i = 0; i < this.codes.length; i++) {
      const known = unchecked(this.codes[i]);
      if (bytesEqualIgnoreAsciiCase(known.ptr, known.len, ptr, len)) return i;
    }
    return -1;
  }
}

/** Three upper-case ASCII letters (ISO 4217 alphabetic code, as OpenRTB sends them). */
export function isCurrencyCode(p: usize, n: i32): bool {
  if (n != 3) return false;
  for (let i = 0; i < 3; i++) {
    const c = load<u8>(p + <usize>i);
    if (c < 0x41 || c > 0x5a) return false;
  }
  return true;
}
