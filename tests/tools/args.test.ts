// The tools' command-line parsing (host/src/tools/args.ts): a negative number after a flag gets
// the range check's message, not parseArgs' "argument is ambiguous".
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { num, numList, parse, signedPct, str } from "../../host/src/tools/args.ts";
import { main as loadgenMain, parseFx } from "../../host/src/tools/loadgen.ts";
import { UsageError } from "../../host/src/tools/errors.ts";

const OPTIONS = { budgets: { type: "string" }, seed: { type: "string" }, json: { type: "boolean" } } as const;

describe("tool arguments", () => {
  it("a change is printed with its sign (the replay's pacing lines: paced clicks against unpaced)", () => {
    assert.equal(signedPct(0.4), "+40.0%");
    assert.equal(signedPct(-0.05), "−5.0%");
    assert.equal(signedPct(0), "0.0%");
  });

  it("--fx says which part is wrong: the form, or a rate that is not above 0", () => {
    assert.deepEqual(parseFx("USD=0.14"), { CNY: 1, USD: 0.14 });
    assert.throws(() => parseFx("USD"), /--fx: "USD" is not CUR=RATE/);
    assert.throws(() => parseFx("USD=0"), /--fx: the rate of USD must be a number above 0 \(got "0"\)/);
  });

  it("a negative number after a string flag is that flag's value, so the range check explains it", () => {
    const v = parse(["--budgets", "-2", "--seed", "-1.5", "--json"], OPTIONS);
    assert.equal(str(v, "budgets"), "-2");
    assert.equal(str(v, "seed"), "-1.5");
    assert.equal(v.json, true);
    assert.throws(() => numList(v, "budgets", [2], { min: 1, integer: true }), (e: Error) => e instanceof UsageError && e.message === "--budgets: -2 is below 1");
    assert.throws(() => num(v, "seed", 1, { min: 0 }), /--seed: -1.5 is below 0/);
  });

  it("a flag is not taken for a value: a missing value and an unknown flag are still refused", () => {
    assert.throws(() => parse(["--budgets", "--json"], OPTIONS), (e: Error) => e instanceof UsageError && /--budgets/.test(e.message));
    assert.throws(() => parse(["--json", "-2"], OPTIONS), /unexpected argument "-2"|Unknown option/);
    assert.throws(() => parse(["--nope", "-2"], OPTIONS), /Unknown option '--nope'/);
    // --flag=value keeps working, negative or not.
    assert.equal(str(parse(["--budgets=-4"], OPTIONS), "budgets"), "-4");
  });

  it("numbers are decimal: hexadecimal, binary and octal forms are refused, exponents kept", () => {
    const seed = (x: string) => num(parse(["--seed", x], OPTIONS), "seed", 0);
    for (const x of ["0x10", "0b11", "0o7", "1_000", "Infinity", "", " "]) assert.throws(() => seed(x), /is not a number/, x);
    assert.deepEqual(["16", "+2", "-3", "1.5", ".5", "2.", "1e3", "1E-2"].map(seed), [16, 2, -3, 1.5, 0.5, 2, 1000, 0.01]);
  });

  // Node clamps a timer over 2^31-1 ms to 1 ms: every request of a run would time out.
  it("loadgen --timeout-ms is at most 10 minutes", async () => {
    const err: string[] = [];
    const io = { out: () => {}, err: (s: string) => void err.push(s), progress: false };
    assert.equal(await loadgenMain(["--timeout-ms", "3000000000", "--url", "http://127.0.0.1:9/openrtb2/bid"], io), 2);
    assert.match(err.join(""), /--timeout-ms: 3000000000 is above 600000/);
  });
});
