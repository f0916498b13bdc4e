// Strict .npy reader for the float arrays a model holds.
// Format: magic "\x93NUMPY", u8 major, u8 minor, header length (u16 LE for
// 1.0, u32 LE for 2.0 and 3.0), header = Python dict literal (latin-1 for 1.0
// and 2.0, UTF-8 for 3.0) padded with spaces and ended by "\n", then the data.
import { NpzError } from "./errors.ts";

export type NpyDtype = "<f4" | "<f8" | ">f4" | ">f8";

export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  fortranOrder: boolean;
  /** Values converted to float32 (float64 rounded to nearest, as Math.fround). */
  data: Float32Array;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const MAX_HEADER_LEN = 65536;
const MAX_NESTING = 8;

type PyValue = string | number | boolean | null | PyValue[] | { tuple: PyValue[] };

/** Tiny strict parser for the Python literals numpy writes in .npy headers. */
class LiteralParser {
  private p = 0;
  constructor(private readonly s: string) {}

  private fail(msg: string): never {
    throw new NpzError("NPY_BAD_HEADER", `${msg} at position ${this.p} in header ${JSON.stringify(this.s.slice(0, 200))}`);
  }
  private ws(): void {
    while (this.p < this.s.length && (this.s[this.p] === " " || this.s[this.p] === "\t")) this.p++;
  }
  private eat(ch: string): boolean {
    this.ws();
    if (this.s[this.p] === ch) { this.p++; return true; }
    return false;
  }
  private expect(ch: string): void {
    if (!this.eat(ch)) this.fail(`expected ${JSON.stringify(ch)}`);
  }

  parseHeaderDict(): Map<string, PyValue> {
    const out = new Map<string, PyValue>();
    this.expect("{");
    for (;;) {
      if (this.eat("}")) break;
      this.ws();
      const q = this.s[this.p];
      if (q !== "'" && q !== '"') this.fail("expected a string key");
      const key = this.string();
      this.expect(":");
      const value = this.value(0);
      if (out.has(key)) this.fail(`duplicate key ${JSON.stringify(key)}`);
      out.set(key, value);
      if (this.eat(",")) continue;
      this.expect("}");
      break;
    }
    this.ws();
    // Padding (spaces) then exactly one "\n" at the very end.
    if (this.p !== this.s.length - 1 || this.s[this.p] !== "\n") this.fail("header must end with padding and a newline");
    return out;
  }

  private value(depth: number): PyValue {
    if (depth > MAX_NESTING) this.fail("nesting too deep");
    this.ws();
    const c = this.s[this.p];
    if (c === "'" || c === '"') return this.string();
    if (c === "(" || c === "[") {
      const close = c === "(" ? ")" : "]";
      this.p++;
      const items: PyValue[] = [];
      let sawComma = false;
      for (;;) {
        if (this.eat(close)) break;
        items.push(this.value(depth + 1));
        sawComma = this.eat(",");
        if (sawComma) continue;
        this.expect(close);
        break;
      }
      if (c === "(") {
        // (x) is not a tuple in Python: a 1-tuple needs its comma.
        if (items.length === 1 && !sawComma) this.fail("parenthesized value is not a tuple");
        return { tuple: items };
      }
      return items;
    }
    if (c !== undefined && /[0-9]/.test(c)) {
      const m = /^[0-9]+/.exec(this.s.slice(this.p))!;
      const text = m[0];
      if (text.length > 1 && text[0] === "0") this.fail("integer with a leading zero");
      this.p += text.length;
      const n = Number(text);
      if (!Number.isSafeInteger(n)) this.fail("integer too large");
      return n;
    }
    for (const [word, v] of [["True", true], ["False", false], ["None", null]] as const) {
      if (this.s.startsWith(word, this.p)) {
        const next = this.s[this.p + word.length];
        if (next === undefined || !/[A-Za-z0-9_]/.test(next)) { this.p += word.length; return v; }
      }
    }
    this.fail("unexpected token");
  }

  private string(): string {
    const q = this.s[this.p]!;
    this.p++;
    let out = "";
    for (;;) {
      const c = this.s[this.p];
      if (c === undefined || c === "\n") this.fail("unterminated string");
      this.p++;
      if (c === q) return out;
      if (c === "\\") this.fail("escapes are not supported in header strings");
      out += c;
    }
  }
}

function isTuple(v: PyValue): v is { tuple: PyValue[] } {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Parses a whole .npy file (as stored in an .npz member). `label` names it in errors. */
export function parseNpy(bytes: Uint8Array, label = "array"): NpyArray {
  if (bytes.length < 10) throw new NpzError("NPY_TRUNCATED", `${label}: ${bytes.length} bytes is too short for an .npy header`);
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC[i]) throw new NpzError("NPY_BAD_MAGIC", `${label}: not an .npy array (bad magic)`);
  }
  const major = bytes[6]!;
  const minor = bytes[7]!;
  if (minor !== 0 || major < 1 || major > 3) throw new NpzError("NPY_BAD_VERSION", `${label}: .npy version ${major}.${minor} not supported (1.0, 2.0, 3.0)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let headerStart: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    headerStart = 10;
  } else {
    if (bytes.length < 12) throw new NpzError("NPY_TRUNCATED", `${label}: .npy header cut short`);
    headerLen = view.getUint32(8, true);
    headerStart = 12;
  }
  if (headerLen > MAX_HEADER_LEN) throw new NpzError("NPY_BAD_HEADER", `${label}: header of ${headerLen} bytes is too long`);
  const dataStart = headerStart + headerLen;
  if (dataStart > bytes.length) throw new NpzError("NPY_TRUNCATED", `${label}: .npy header cut short`);
  const headerBytes = bytes.subarray(headerStart, dataStart);
  let header: string;
  if (major === 3) {
    try {
      header = new TextDecoder("utf-8", { fatal: true }).decode(headerBytes);
    } catch {
      throw new NpzError("NPY_BAD_HEADER", `${label}: header is not valid UTF-8`);
    }
  } else {
    header = new TextDecoder("latin1").decode(headerBytes);
  }

  let dict: Map<string, PyValue>;
  try {
    dict = new LiteralParser(header).parseHeaderDict();
  } catch (err) {
    if (err instanceof NpzError) throw new NpzError(err.code as "NPY_BAD_HEADER", `${label}: ${err.message}`);
    throw err;
  }
  const keys = [...dict.keys()].sort().join(",");
  if (keys !== "descr,fortran_order,shape") throw new NpzError("NPY_BAD_HEADER", `${label}: header keys are {${keys}}, expected descr, fortran_order, shape`);

  const descr = dict.get("descr")!;
  if (typeof descr !== "string") throw new NpzError("NPY_BAD_DTYPE", `${label}: structured dtype not supported`);
  if (descr !== "<f4" && descr !== "<f8" && descr !== ">f4" && descr !== ">f8") {
    throw new NpzError("NPY_BAD_DTYPE", `${label}: dtype ${JSON.stringify(descr)} not supported (float32 or float64: <f4 <f8 >f4 >f8)`);
  }
  const fortran = dict.get("fortran_order")!;
  if (typeof fortran !== "boolean") throw new NpzError("NPY_BAD_HEADER", `${label}: fortran_order is not a bool`);
  const shapeV = dict.get("shape")!;
  if (!isTuple(shapeV)) throw new NpzError("NPY_BAD_HEADER", `${label}: shape is not a tuple`);
  const shape: number[] = [];
  for (const d of shapeV.tuple) {
    if (typeof d !== "number") throw new NpzError("NPY_BAD_HEADER", `${label}: shape holds a non-integer`);
    shape.push(d);
  }
  // Memory order only matters from 2 dimensions on.
  if (fortran && shape.length >= 2) throw new NpzError("NPY_FORTRAN_ORDER", `${label}: fortran_order arrays with ${shape.length} dimensions are not supported`);

  const itemSize = descr[2] === "4" ? 4 : 8;
  let count = 1;
  for (const d of shape) {
    count *= d;
    if (count > 2 ** 32) throw new NpzError("NPY_SIZE_MISMATCH", `${label}: shape ${JSON.stringify(shape)} is too large`);
  }
  const dataLen = bytes.length - dataStart;
  if (dataLen !== count * itemSize) {
    throw new NpzError(dataLen < count * itemSize ? "NPY_TRUNCATED" : "NPY_SIZE_MISMATCH", `${label}: ${dataLen} data bytes for shape ${JSON.stringify(shape)} of ${descr} (expected ${count * itemSize})`);
  }
  return { dtype: descr, shape, fortranOrder: fortran, data: toFloat32(bytes, dataStart, count, descr) };
}

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function toFloat32(bytes: Uint8Array, start: number, count: number, descr: NpyDtype): Float32Array {
  const little = descr[0] === "<";
  if (descr[2] === "4" && little === HOST_LITTLE_ENDIAN) {
    // Copy into a fresh (aligned) buffer.
    return new Float32Array(bytes.slice(start, start + count * 4).buffer);
  }
  const out = new Float32Array(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset + start, count * (descr[2] === "4" ? 4 : 8));
  if (descr[2] === "4") {
    for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, little);
  } else {
    // Float32Array stores round float64 to nearest (ties to even), exactly like Math.fround.
    for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, little);
  }
  return out;
}
