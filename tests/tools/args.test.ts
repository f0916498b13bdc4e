// The tools' command-line parsing (host/src/tools/args.ts): a negative number after a flag gets
// the range check's message, not parseArgs' "argument is ambiguous".
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { num, numList, parse, signedPct, str } from "../../host/src/tools/args.ts";
import { parseFx } from "../../host/src/tools/loadgen.ts";
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
});
