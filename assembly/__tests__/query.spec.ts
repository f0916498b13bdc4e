// Notice URL helpers (assembly/filter/query.ts: pure, no ABI imports).
import { parseCpmToMicros, parseFrequencyKey, pathLength, queryParam } from "../filter/query";
import { Str } from "../core/bytes/str";

const keep = new Array<ArrayBuffer>();

function view(s: string): Str {
  const b = String.UTF8.encode(s);
  keep.push(b);
  const v = new Str();
  v.set(changetype<usize>(b), b.byteLength);
  return v;
}

function cpm(s: string): i64 {
  return parseCpmToMicros(view(s));
}

/** The raw value of `name` in `path`, or "<none>". */
function param(path: string, name: string): string {
  const p = view(path);
  const out = new Str();
  out.set(1, 1); // must be overwritten or cleared
  const found = queryParam(p.ptr, p.len, name, out);
  if (!found) {
    expect(out.len).toBe(0);
    expect(out.ptr).toBe(0);
    return "<none>";
  }
  // the value is a view into the path
  expect(out.ptr).toBeGreaterThanOrEqual(p.ptr);
  expect(out.ptr + <usize>out.len).toBeLessThanOrEqual(p.ptr + <usize>p.len);
  return out.toString();
}

describe("parseCpmToMicros", () => {
  it("converts CPM prices to micros per impression", () => {
    expect(cpm("1.25")).toBe(1250);
    expect(cpm("2")).toBe(2000);
    expect(cpm("0.3")).toBe(300);
    expect(cpm("0")).toBe(0);
    expect(cpm("0.000")).toBe(0);
    expect(cpm("0.001")).toBe(1);
    expect(cpm("1000000")).toBe(1000000000);
    expect(cpm("007.5")).toBe(7500);
    expect(cpm("123456.789")).toBe(123456789);
  });

  it("rounds sub-micro prices up", () => {
    expect(cpm("0.0011")).toBe(2);
    expect(cpm("0.0001")).toBe(1);
    expect(cpm("0.000000001")).toBe(1);
    expect(cpm("1.2345")).toBe(1235);
    expect(cpm("0.999999999")).toBe(1000);
    expect(cpm("2.000000000")).toBe(2000);
  });

  it("reads a price an exchange kept as a float32 as the micro it stands for, not one more", () => {
    expect(cpm("1.100000023841858")).toBe(1100); // Math.fround(1.1) printed as a double
    // Every price of 0.001 to 20.000 CPM, as float32 printed as a double (half of them above
    // the decimal: each read one micro above the bid before).
    for (let i = 1; i <= 20000; i++) {
      const f = <f64><f32>(<f64>i / 1000.0);
      expect(cpm(f.toString())).toBe(i);
    }
    // A real part of a micro still rounds up; a whole price stays whole.
    expect(cpm("1.1001")).toBe(1101);
    expect(cpm("1.100001")).toBe(1101);
    expect(cpm("999999.999")).toBe(999999999);
    // At 1,000,000 CPM a float32 is ~60 micros coarse: a part of a micro is noise there.
    expect(cpm("999999.9985")).toBe(999999998);
  });

  it("reads nine decimals and ignores further ones (floating-point clearing prices)", () => {
    expect(cpm("0.123456789")).toBe(124);
    // 0.3 as JavaScript/Java/Go print 0.1 + 0.2, and as %.17g prints 0.3: both 300 micros,
    // so a first-price win at a 0.3 bid is not "above the bid".
    expect(cpm("0.30000000000000004")).toBe(300);
    expect(cpm("0.29999999999999999")).toBe(300);
    expect(cpm("0.1234567891")).toBe(124);
    expect(cpm("1.0000000000")).toBe(1000);
    expect(cpm("1.000000000000000000000000000000")).toBe(1000);
    expect(cpm("1000000.0000000000")).toBe(1000000000);
    expect(cpm("1000000.00000000001")).toBe(1000000000);
    expect(cpm("1000000.000000001")).toBe(-1);
    expect(cpm("1.000000000000000000000000000000000000000")).toBe(-1); // 41 bytes
    expect(cpm("1.0000000000x")).toBe(-1);
    expect(cpm("1.0000000000.")).toBe(-1);
  });

  it("reads exponents, as Java's Double.toString and others print prices", () => {
    expect(cpm("1.5E0")).toBe(1500);
    expect(cpm("15e-1")).toBe(1500);
    expect(cpm("2.5e-3")).toBe(3); // 0.0025 CPM = 2.5 micros, rounded up
    expect(cpm("1.0E-4")).toBe(1);
    expect(cpm("1e3")).toBe(1000000);
    expect(cpm("1.25E+2")).toBe(125000);
    expect(cpm("0.000123e4")).toBe(1230);
    expect(cpm("1e6")).toBe(1000000000);
    expect(cpm("1.000000001e6")).toBe(-1); // above 1,000,000 CPM
    expect(cpm("1e7")).toBe(-1);
    expect(cpm("1e999999999")).toBe(-1);
    expect(cpm("0e999999999")).toBe(0);
    expect(cpm("5e-999999999")).toBe(0); // under a billionth of a CPM: ignored, as further decimals are
    // The same nine-decimal rule as without an exponent.
    expect(cpm("3.0000000000000004E-1")).toBe(300);
    expect(cpm("123456789e-9")).toBe(124);
  });

  it("reads percent-encoded prices, a plus sign, spaces around, and a bare point", () => {
    expect(cpm("1%2E5")).toBe(1500);
    expect(cpm("1%2e5")).toBe(1500);
    expect(cpm("1.5%20")).toBe(1500);
    expect(cpm("%201.5")).toBe(1500);
    expect(cpm("1.5E%2B0")).toBe(1500);
    expect(cpm("%31")).toBe(1000);
    expect(cpm("+1")).toBe(1000);
    expect(cpm(" 1")).toBe(1000);
    expect(cpm("1 ")).toBe(1000);
    // Form-encoded spaces after it ("+"); in front and in the exponent a "+" is a sign.
    expect(cpm("1.5+")).toBe(1500);
    expect(cpm("+1.5++")).toBe(1500);
    expect(cpm("1.25e+2+")).toBe(125000);
    expect(cpm("1.5+1")).toBe(-1);
    expect(cpm("+")).toBe(-1);
    expect(cpm("+-1.5")).toBe(-1);
    expect(cpm(".5")).toBe(500);
    expect(cpm("1.")).toBe(1000);
  });

  it("refuses anything that is not a decimal number", () => {
    expect(cpm("")).toBe(-1);
    expect(cpm("   ")).toBe(-1);
    expect(cpm("%20")).toBe(-1);
    expect(cpm("-1")).toBe(-1);
    expect(cpm("+-1")).toBe(-1);
    expect(cpm("++1")).toBe(-1);
    expect(cpm(".")).toBe(-1);
    expect(cpm("+")).toBe(-1);
    expect(cpm("1.2.3")).toBe(-1);
    expect(cpm("1,5")).toBe(-1);
    expect(cpm("1 5")).toBe(-1);
    expect(cpm("1e")).toBe(-1);
    expect(cpm("1e+")).toBe(-1);
    expect(cpm("1e1.5")).toBe(-1);
    expect(cpm("e5")).toBe(-1);
    expect(cpm("1.5e0x")).toBe(-1);
    expect(cpm("0x10")).toBe(-1);
    expect(cpm("NaN")).toBe(-1);
    expect(cpm("Infinity")).toBe(-1);
    expect(cpm("1%2")).toBe(-1); // a cut escape
    expect(cpm("1%G5")).toBe(-1);
    expect(cpm("%")).toBe(-1);
    expect(cpm("${AUCTION_PRICE}")).toBe(-1);
    expect(cpm("%24%7BAUCTION_PRICE%7D")).toBe(-1);
    // Encrypted prices (e.g. web-safe base64) cannot be read: the notice stays pending (SECURITY.md G8).
    expect(cpm("WEp8wQAEj_sKmbHGRnxMYjGGb-8GM0LUo1vu3w")).toBe(-1);
    expect(cpm("AAABi2Px8CoAAAAAAAAAAA%3D%3D")).toBe(-1);
  });

  it("refuses prices above 1,000,000 CPM and over-long input", () => {
    expect(cpm("1000001")).toBe(-1);
    expect(cpm("9999999999999999999999")).toBe(-1);
    expect(cpm("00000000000000000000000000000000000001.5")).toBe(1500); // 40 characters
    expect(cpm("000000000000000000000000000000000000001.5")).toBe(-1); // 41 characters
    // 40 bytes once decoded: 120 encoded bytes at most.
    expect(cpm("%30".repeat(38) + "1.5")).toBe(-1); // 41 decoded
    expect(cpm("%30".repeat(37) + "1.5")).toBe(1500); // 40 decoded
  });

  // Regression: only the integer part was checked against 1,000,000 CPM.
  it("refuses 1000000.5 (above 1,000,000 CPM)", () => {
    expect(cpm("1000000.5")).toBe(-1);
    expect(cpm("1000000.000000001")).toBe(-1);
  });
});

describe("queryParam", () => {
  it("finds parameters anywhere in the query", () => {
    const p = "/openrtb2/win?bid=1f-0000abcd&imp=1&cid=camp%201&price=1.25";
    expect(param(p, "bid")).toBe("1f-0000abcd");
    expect(param(p, "imp")).toBe("1");
    expect(param(p, "cid")).toBe("camp%201");
    expect(param(p, "price")).toBe("1.25");
    expect(param(p, "reason")).toBe("<none>");
  });

  it("matches whole keys only", () => {
    expect(param("/w?xbid=1&bid=2", "bid")).toBe("2");
    expect(param("/w?bidx=1&bid=2", "bid")).toBe("2");
    expect(param("/w?bidx=1", "bid")).toBe("<none>");
    expect(param("/w?bi=1", "bid")).toBe("<none>");
    expect(param("/w?a=bid=3", "bid")).toBe("<none>");
  });

  it("returns empty values and the first occurrence", () => {
    expect(param("/w?bid=&imp=1", "bid")).toBe("");
    expect(param("/w?bid=", "bid")).toBe("");
    expect(param("/w?bid=1&bid=2", "bid")).toBe("1");
    expect(param("/w?bid", "bid")).toBe("<none>");
    expect(param("/w?&&bid=9&", "bid")).toBe("9");
  });

  it("only looks after the first '?'", () => {
    expect(param("/w/bid=1", "bid")).toBe("<none>");
    expect(param("", "bid")).toBe("<none>");
    expect(param("?", "bid")).toBe("<none>");
    expect(param("?bid=7", "bid")).toBe("7");
    expect(param("/w?x=1?bid=2", "bid")).toBe("<none>");
    expect(param("/w?x=?&bid=2", "bid")).toBe("2");
  });

  it("keeps the raw (still encoded) value", () => {
    expect(param("/w?price=${AUCTION_PRICE}&x=1", "price")).toBe("${AUCTION_PRICE}");
    expect(param("/w?reason=%24%7BAUCTION_LOSS%7D", "reason")).toBe("%24%7BAUCTION_LOSS%7D");
  });
});

describe("pathLength", () => {
  it("is the length before the first '?'", () => {
    let p = view("/openrtb2/win?bid=1");
    expect(pathLength(p.ptr, p.len)).toBe(13);
    p = view("/openrtb2/win");
    expect(pathLength(p.ptr, p.len)).toBe(13);
    p = view("?a=1");
    expect(pathLength(p.ptr, p.len)).toBe(0);
    p = view("/a?b?c");
    expect(pathLength(p.ptr, p.len)).toBe(2);
    expect(pathLength(0, 0)).toBe(0);
  });
});

describe("parseFrequencyKey", () => {
  it("reads the 16 hex digits the reply writes; anything else is 0 (no key)", () => {
    expect(parseFrequencyKey(view("00a1b2c3d4e5f607"))).toBe(0x00a1b2c3d4e5f607);
    expect(parseFrequencyKey(view("ffffffffffffffff"))).toBe(u64.MAX_VALUE);
    expect(parseFrequencyKey(view("00a1b2c3d4e5f6"))).toBe(0); // short
    expect(parseFrequencyKey(view("00a1b2c3d4e5f6070"))).toBe(0); // long
    expect(parseFrequencyKey(view("00a1b2c3d4e5f60g"))).toBe(0);
    expect(parseFrequencyKey(view(""))).toBe(0);
  });
});
