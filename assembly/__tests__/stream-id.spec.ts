// Stream ids the filter keeps as its position in the fleet's stream of counted wins
// (assembly/filter/stream-id.ts): what a host may answer, and nothing else.
import { isStreamId } from "../filter/stream-id";

const keep = new Array<ArrayBuffer>();

function id(s: string): bool {
  const b = String.UTF8.encode(s);
  keep.push(b);
  return isStreamId(changetype<usize>(b), b.byteLength);
}

describe("isStreamId", () => {
  it("takes <ms>-<seq>, 1 to 20 digits each", () => {
    expect(id("0-0")).toBe(true);
    expect(id("1765000123456-0")).toBe(true);
    expect(id("1765000123456-17")).toBe(true);
    expect(id("18446744073709551615-18446744073709551615")).toBe(true);
  });

  it("refuses anything else", () => {
    expect(id("")).toBe(false);
    expect(id("-")).toBe(false);
    expect(id("12")).toBe(false);
    expect(id("12-")).toBe(false);
    expect(id("-12")).toBe(false);
    expect(id("1-2-3")).toBe(false);
    expect(id("1765000123456")).toBe(false);
    expect(id("1765000123456-0 ")).toBe(false);
    expect(id("+1-0")).toBe(false);
    expect(id("1a-0")).toBe(false);
    expect(id("$")).toBe(false);
    expect(id("123456789012345678901-0")).toBe(false); // 21 digits
    expect(id("0-123456789012345678901")).toBe(false);
  });
});
