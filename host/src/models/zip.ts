// A small, strict reader for the zip files numpy writes (np.savez: STORED,
// np.savez_compressed: DEFLATED). It reads the central directory, checks every
// local header against it, handles ZIP64 extra fields and the ZIP64 end of
// central directory, data descriptors (flag bit 3), and verifies the CRC-32 and
// the sizes of every member. Anything it does not understand is refused with a
// typed NpzError; it never returns a partially read archive.
import * as zlib from "node:zlib";
import { NpzError } from "./errors.ts";

export interface ZipReadOptions {
  /** Limit on the sum of uncompressed member sizes (zip bomb guard). Default 256 MiB. */
  maxUncompressedBytes?: number;
  /** Limit on the number of members. Default 4096. */
  maxEntries?: number;
}

export interface ZipEntry {
  name: string;
  method: 0 | 8;
  crc32: number;
  compressedSize: number;
  size: number;
  /** Uncompressed, CRC-checked content. */
  data: Uint8Array;
}

export const DEFAULT_MAX_UNCOMPRESSED_BYTES = 256 * 1024 * 1024;
const DEFAULT_MAX_ENTRIES = 4096;

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_DATA_DESCRIPTOR = 0x08074b50;

const EOCD_SIZE = 22;
const ZIP64_LOCATOR_SIZE = 20;
const ZIP64_EOCD_MIN_SIZE = 56;
const CENTRAL_SIZE = 46;
const LOCAL_SIZE = 30;
const U32_MAX = 0xffffffff;
const U16_MAX = 0xffff;
const EXTRA_ZIP64 = 0x0001;

const FLAG_ENCRYPTED = 1 << 0;
const FLAG_DATA_DESCRIPTOR = 1 << 3;
const FLAG_PATCHED = 1 << 5;
const FLAG_STRONG_ENCRYPTION = 1 << 6;
const FLAG_UTF8 = 1 << 11;
const FLAG_CD_ENCRYPTED = 1 << 13;

/** CRC-32 (IEEE, as zip uses). node:zlib has crc32 from Node 20.15; a table fallback otherwise. */
export const crc32: (data: Uint8Array) => number =
  typeof (zlib as { crc32?: unknown }).crc32 === "function"
    ? (data) => zlib.crc32(data) >>> 0
    : crc32Table;

let table: Uint32Array | undefined;
function crc32Table(data: Uint8Array): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = table[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** Bounds-checked little-endian reader over the whole file. */
class Reader {
  readonly view: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(offset: number, len: number, what: string): void {
    if (offset < 0 || len < 0 || offset + len > this.bytes.length) {
      throw new NpzError("NPZ_TRUNCATED", `${what} at offset ${offset} (+${len}) runs past the end of the file (${this.bytes.length} bytes)`);
    }
  }
  u16(o: number): number { return this.view.getUint16(o, true); }
  u32(o: number): number { return this.view.getUint32(o, true); }
  u64(o: number, what: string): number {
    const v = this.view.getBigUint64(o, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new NpzError("NPZ_BAD_OFFSET", `${what} ${v} is out of range`);
    return Number(v);
  }
}

interface Zip64Values { size?: number; compressedSize?: number; offset?: number; disk?: number; }

/** Walks an extra field area; strict: records must tile it exactly. Returns the ZIP64 record body if any. */
function findZip64Extra(r: Reader, start: number, len: number, where: string): { start: number; len: number } | undefined {
  let p = start;
  const end = start + len;
  let found: { start: number; len: number } | undefined;
  while (p < end) {
    if (p + 4 > end) throw new NpzError("NPZ_MALFORMED", `${where}: extra field record header cut short`);
    const id = r.u16(p);
    const size = r.u16(p + 2);
    if (p + 4 + size > end) throw new NpzError("NPZ_MALFORMED", `${where}: extra field 0x${id.toString(16)} overruns the extra area`);
    if (id === EXTRA_ZIP64) {
      if (found) throw new NpzError("NPZ_MALFORMED", `${where}: two ZIP64 extra fields`);
      found = { start: p + 4, len: size };
    }
    p += 4 + size;
  }
  return found;
}

/**
 * Reads the ZIP64 extra values for the fields flagged as needing them
 * (those whose 32-bit value is 0xFFFFFFFF, in the order of the spec:
 * uncompressed size, compressed size, local header offset, disk number).
 */
function readZip64(r: Reader, rec: { start: number; len: number }, want: { size: boolean; compressedSize: boolean; offset: boolean; disk: boolean }, where: string): Zip64Values {
  const out: Zip64Values = {};
  let p = rec.start;
  const end = rec.start + rec.len;
  const take8 = (what: string): number => {
    if (p + 8 > end) throw new NpzError("NPZ_MALFORMED", `${where}: ZIP64 extra field lacks the ${what}`);
    const v = r.u64(p, `${where}: ZIP64 ${what}`);
    p += 8;
    return v;
  };
  if (want.size) out.size = take8("uncompressed size");
  if (want.compressedSize) out.compressedSize = take8("compressed size");
  if (want.offset) out.offset = take8("local header offset");
  if (want.disk) {
    if (p + 4 > end) throw new NpzError("NPZ_MALFORMED", `${where}: ZIP64 extra field lacks the disk number`);
    out.disk = r.u32(p);
    p += 4;
  }
  return out;
}

interface CentralEntry {
  name: string;
  nameBytes: Uint8Array;
  flags: number;
  method: number;
  crc32: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

function decodeName(bytes: Uint8Array, utf8: boolean): string {
  if (utf8) {
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      throw new NpzError("NPZ_MALFORMED", "member name is not valid UTF-8");
    }
  }
  // Without the UTF-8 flag the name is CP437; the ASCII range (all numpy writes) is the same.
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

function checkFlags(flags: number, method: number, name: string): void {
  if (flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION | FLAG_CD_ENCRYPTED)) {
    throw new NpzError("NPZ_ENCRYPTED", `member ${JSON.stringify(name)} is encrypted`);
  }
  if (flags & FLAG_PATCHED) throw new NpzError("NPZ_UNSUPPORTED", `member ${JSON.stringify(name)} uses patched data`);
  if (method !== 0 && method !== 8) {
    throw new NpzError("NPZ_UNSUPPORTED_METHOD", `member ${JSON.stringify(name)} uses compression method ${method} (only 0 STORED and 8 DEFLATED)`);
  }
}

function findEocd(r: Reader): number {
  const len = r.bytes.length;
  const last = len - EOCD_SIZE;
  const first = Math.max(0, last - U16_MAX);
  for (let p = last; p >= first; p--) {
    if (r.u32(p) === SIG_EOCD && r.u16(p + 20) === len - p - EOCD_SIZE) return p;
  }
  return -1;
}

/** Parses and fully verifies a zip archive held in memory. Members are returned in central directory order. */
export function readZip(bytes: Uint8Array, options: ZipReadOptions = {}): ZipEntry[] {
  const maxTotal = options.maxUncompressedBytes ?? DEFAULT_MAX_UNCOMPRESSED_BYTES;
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
  const r = new Reader(bytes);

  const eocd = bytes.length >= EOCD_SIZE ? findEocd(r) : -1;
  if (eocd < 0) {
    const looksZip = bytes.length >= 4 && r.u32(0) === SIG_LOCAL;
    throw new NpzError(looksZip ? "NPZ_TRUNCATED" : "NPZ_NOT_ZIP", looksZip ? "end of central directory record not found (file cut short?)" : "not a zip file");
  }
  const diskNo = r.u16(eocd + 4);
  const cdDisk = r.u16(eocd + 6);
  let entriesOnDisk = r.u16(eocd + 8);
  let entryCount = r.u16(eocd + 10);
  let cdSize = r.u32(eocd + 12);
  let cdOffset = r.u32(eocd + 16);
  // Where the central directory must end: the EOCD, or the ZIP64 EOCD record.
  let cdEndLimit = eocd;

  const hasLocator = eocd >= ZIP64_LOCATOR_SIZE && r.u32(eocd - ZIP64_LOCATOR_SIZE) === SIG_ZIP64_LOCATOR;
  const needsZip64 = entriesOnDisk === U16_MAX || entryCount === U16_MAX || cdSize === U32_MAX || cdOffset === U32_MAX;
  if (needsZip64 && !hasLocator) throw new NpzError("NPZ_MALFORMED", "EOCD asks for ZIP64 values but there is no ZIP64 locator");
  if (hasLocator) {
    const loc = eocd - ZIP64_LOCATOR_SIZE;
    const locDisk = r.u32(loc + 4);
    const recOffset = r.u64(loc + 8, "ZIP64 EOCD offset");
    const totalDisks = r.u32(loc + 16);
    if (locDisk !== 0 || totalDisks !== 1) throw new NpzError("NPZ_UNSUPPORTED", "multi-disk archives are not supported");
    r.need(recOffset, ZIP64_EOCD_MIN_SIZE, "ZIP64 end of central directory");
    if (r.u32(recOffset) !== SIG_ZIP64_EOCD) throw new NpzError("NPZ_MALFORMED", "bad ZIP64 end of central directory signature");
    const recSize = r.u64(recOffset + 4, "ZIP64 EOCD size");
    if (recSize < ZIP64_EOCD_MIN_SIZE - 12 || recOffset + 12 + recSize !== loc) {
      throw new NpzError("NPZ_BAD_OFFSET", "ZIP64 end of central directory record does not end at its locator");
    }
    const d64 = r.u32(recOffset + 16);
    const cd64 = r.u32(recOffset + 20);
    if (d64 !== 0 || cd64 !== 0) throw new NpzError("NPZ_UNSUPPORTED", "multi-disk archives are not supported");
    const onDisk64 = r.u64(recOffset + 24, "ZIP64 entry count");
    const count64 = r.u64(recOffset + 32, "ZIP64 entry count");
    const size64 = r.u64(recOffset + 40, "ZIP64 central directory size");
    const off64 = r.u64(recOffset + 48, "ZIP64 central directory offset");
    // 32-bit values must be the sentinel or agree with the ZIP64 values.
    const agree = (v32: number, max: number, v64: number): boolean => v32 === max || v32 === v64;
    if (!agree(entriesOnDisk, U16_MAX, onDisk64) || !agree(entryCount, U16_MAX, count64) || !agree(cdSize, U32_MAX, size64) || !agree(cdOffset, U32_MAX, off64)) {
      throw new NpzError("NPZ_MALFORMED", "EOCD and ZIP64 EOCD disagree");
    }
    entriesOnDisk = onDisk64;
    entryCount = count64;
    cdSize = size64;
    cdOffset = off64;
    cdEndLimit = recOffset;
  }
  if (diskNo !== 0 || cdDisk !== 0 || entriesOnDisk !== entryCount) {
    throw new NpzError("NPZ_UNSUPPORTED", "multi-disk archives are not supported");
  }
  if (entryCount > maxEntries) throw new NpzError("NPZ_UNSUPPORTED", `${entryCount} members (limit ${maxEntries})`);
  if (cdOffset + cdSize !== cdEndLimit) {
    if (cdOffset + cdSize > cdEndLimit) throw new NpzError(cdOffset + cdSize > bytes.length ? "NPZ_TRUNCATED" : "NPZ_BAD_OFFSET", "central directory overlaps the end records or runs past the end of the file");
    throw new NpzError("NPZ_BAD_OFFSET", "gap between the central directory and the end records");
  }

  // Central directory.
  const central: CentralEntry[] = [];
  const names = new Set<string>();
  let p = cdOffset;
  for (let i = 0; i < entryCount; i++) {
    if (p + CENTRAL_SIZE > cdEndLimit) throw new NpzError("NPZ_MALFORMED", `central directory entry ${i} runs past the central directory`);
    if (r.u32(p) !== SIG_CENTRAL) throw new NpzError("NPZ_MALFORMED", `bad central directory signature at entry ${i}`);
    const flags = r.u16(p + 8);
    const method = r.u16(p + 10);
    const crc = r.u32(p + 16);
    const csize32 = r.u32(p + 20);
    const size32 = r.u32(p + 24);
    const nameLen = r.u16(p + 28);
    const extraLen = r.u16(p + 30);
    const commentLen = r.u16(p + 32);
    const diskStart = r.u16(p + 34);
    const offset32 = r.u32(p + 42);
    const recEnd = p + CENTRAL_SIZE + nameLen + extraLen + commentLen;
    if (recEnd > cdEndLimit) throw new NpzError("NPZ_MALFORMED", `central directory entry ${i} runs past the central directory`);
    const nameBytes = bytes.subarray(p + CENTRAL_SIZE, p + CENTRAL_SIZE + nameLen);
    const name = decodeName(nameBytes, (flags & FLAG_UTF8) !== 0);
    const where = `central directory entry ${JSON.stringify(name)}`;
    const z64rec = findZip64Extra(r, p + CENTRAL_SIZE + nameLen, extraLen, where);
    const want = { size: size32 === U32_MAX, compressedSize: csize32 === U32_MAX, offset: offset32 === U32_MAX, disk: diskStart === U16_MAX };
    let z: Zip64Values = {};
    if (want.size || want.compressedSize || want.offset || want.disk) {
      if (!z64rec) throw new NpzError("NPZ_MALFORMED", `${where}: 0xFFFFFFFF size/offset without a ZIP64 extra field`);
      z = readZip64(r, z64rec, want, where);
    }
    if ((z.disk ?? diskStart) !== 0) throw new NpzError("NPZ_UNSUPPORTED", "multi-disk archives are not supported");
    checkFlags(flags, method, name);
    if (names.has(name)) throw new NpzError("NPZ_DUPLICATE_ENTRY", `member ${JSON.stringify(name)} appears twice`);
    names.add(name);
    central.push({
      name, nameBytes, flags, method, crc32: crc,
      compressedSize: z.compressedSize ?? csize32,
      size: z.size ?? size32,
      localOffset: z.offset ?? offset32,
    });
    p = recEnd;
  }
  if (p !== cdEndLimit) throw new NpzError("NPZ_MALFORMED", "central directory size does not match its entries");

  let total = 0;
  for (const e of central) {
    total += e.size;
    if (total > maxTotal) throw new NpzError("NPZ_TOO_LARGE", `uncompressed content exceeds the limit of ${maxTotal} bytes`);
  }

  // Local headers, data and descriptors; collect occupied ranges to refuse overlaps.
  const ranges: Array<{ start: number; end: number; name: string }> = [];
  const planned: Array<{ e: CentralEntry; dataStart: number; dataEnd: number }> = [];
  for (const e of central) {
    const where = `local header of ${JSON.stringify(e.name)}`;
    const lh = e.localOffset;
    if (lh + LOCAL_SIZE > cdOffset) {
      throw new NpzError(lh + LOCAL_SIZE > bytes.length ? "NPZ_TRUNCATED" : "NPZ_BAD_OFFSET", `${where} at ${lh} is outside the member area`);
    }
    if (r.u32(lh) !== SIG_LOCAL) throw new NpzError("NPZ_MALFORMED", `${where}: bad signature at offset ${lh}`);
    const lFlags = r.u16(lh + 6);
    const lMethod = r.u16(lh + 8);
    const lCrc = r.u32(lh + 14);
    const lCsize32 = r.u32(lh + 18);
    const lSize32 = r.u32(lh + 22);
    const lNameLen = r.u16(lh + 26);
    const lExtraLen = r.u16(lh + 28);
    const dataStart = lh + LOCAL_SIZE + lNameLen + lExtraLen;
    if (dataStart > cdOffset) throw new NpzError("NPZ_BAD_OFFSET", `${where} runs into the central directory`);
    const lName = bytes.subarray(lh + LOCAL_SIZE, lh + LOCAL_SIZE + lNameLen);
    if (!sameBytes(lName, e.nameBytes)) throw new NpzError("NPZ_MALFORMED", `${where}: name differs from the central directory`);
    checkFlags(lFlags, lMethod, e.name);
    if (lFlags !== e.flags || lMethod !== e.method) throw new NpzError("NPZ_MALFORMED", `${where}: flags or method differ from the central directory`);
    const z64rec = findZip64Extra(r, lh + LOCAL_SIZE + lNameLen, lExtraLen, where);
    // In a local header, a ZIP64 extra field holds both sizes (uncompressed, then compressed).
    let lSize = lSize32;
    let lCsize = lCsize32;
    if (lSize32 === U32_MAX || lCsize32 === U32_MAX) {
      if (!z64rec) throw new NpzError("NPZ_MALFORMED", `${where}: 0xFFFFFFFF sizes without a ZIP64 extra field`);
      const z = readZip64(r, z64rec, { size: lSize32 === U32_MAX, compressedSize: lCsize32 === U32_MAX, offset: false, disk: false }, where);
      lSize = z.size ?? lSize32;
      lCsize = z.compressedSize ?? lCsize32;
    }
    const dataEnd = dataStart + e.compressedSize;
    if (dataEnd > cdOffset) {
      throw new NpzError(dataEnd > bytes.length ? "NPZ_TRUNCATED" : "NPZ_BAD_OFFSET", `data of ${JSON.stringify(e.name)} runs past the member area`);
    }
    let end = dataEnd;
    if (e.flags & FLAG_DATA_DESCRIPTOR) {
      // The local header may hold zeros (numpy/Python zipfile) or the real values.
      const zeroOrSame = (v: number, real: number): boolean => v === 0 || v === real;
      if (!zeroOrSame(lCrc, e.crc32) || !zeroOrSame(lSize, e.size) || !zeroOrSame(lCsize, e.compressedSize)) {
        throw new NpzError("NPZ_SIZE_MISMATCH", `${where}: CRC or sizes differ from the central directory`);
      }
      // Data descriptor: optional signature, CRC, then sizes as 8-byte values
      // when the local header has a ZIP64 extra field (as Python writes it), else 4-byte.
      const wide = z64rec !== undefined;
      const bodyLen = wide ? 20 : 12;
      let q = dataEnd;
      const withSig = q + 4 + bodyLen <= cdOffset && r.u32(q) === SIG_DATA_DESCRIPTOR && descriptorMatches(r, q + 4, wide, e);
      if (withSig) q += 4;
      else if (!(q + bodyLen <= cdOffset && descriptorMatches(r, q, wide, e))) {
        throw new NpzError(q + bodyLen > bytes.length ? "NPZ_TRUNCATED" : "NPZ_SIZE_MISMATCH", `data descriptor of ${JSON.stringify(e.name)} is missing or differs from the central directory`);
      }
      end = q + bodyLen;
    } else if (lCrc !== e.crc32 || lSize !== e.size || lCsize !== e.compressedSize) {
      throw new NpzError("NPZ_SIZE_MISMATCH", `${where}: CRC or sizes differ from the central directory`);
    }
    ranges.push({ start: lh, end, name: e.name });
    planned.push({ e, dataStart, dataEnd });
  }
  // Refuse overlapping members before inflating anything.
  ranges.sort((a, b) => a.start - b.start);
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i]!.start < ranges[i - 1]!.end) {
      throw new NpzError("NPZ_BAD_OFFSET", `members ${JSON.stringify(ranges[i - 1]!.name)} and ${JSON.stringify(ranges[i]!.name)} overlap`);
    }
  }

  const out: ZipEntry[] = [];
  for (const { e, dataStart, dataEnd } of planned) {
    const raw = bytes.subarray(dataStart, dataEnd);
    let data: Uint8Array;
    if (e.method === 0) {
      if (e.compressedSize !== e.size) throw new NpzError("NPZ_SIZE_MISMATCH", `STORED member ${JSON.stringify(e.name)} has compressed size ${e.compressedSize} != size ${e.size}`);
      data = raw;
    } else {
      data = inflate(raw, e.size, e.name);
    }
    const actual = crc32(data);
    if (actual !== e.crc32) {
      throw new NpzError("NPZ_BAD_CRC", `member ${JSON.stringify(e.name)}: CRC-32 ${hex8(actual)} != recorded ${hex8(e.crc32)}`);
    }
    out.push({ name: e.name, method: e.method as 0 | 8, crc32: e.crc32, compressedSize: e.compressedSize, size: e.size, data });
  }
  return out;
}

function descriptorMatches(r: Reader, q: number, wide: boolean, e: CentralEntry): boolean {
  if (r.u32(q) !== e.crc32) return false;
  if (wide) {
    const c = r.view.getBigUint64(q + 4, true);
    const s = r.view.getBigUint64(q + 12, true);
    return c === BigInt(e.compressedSize) && s === BigInt(e.size);
  }
  return r.u32(q + 4) === e.compressedSize && r.u32(q + 8) === e.size;
}

function inflate(raw: Uint8Array, size: number, name: string): Uint8Array {
  let result: { buffer: Buffer; engine: { bytesWritten: number } };
  try {
    // maxOutputLength guards against members that inflate past their declared size.
    result = zlib.inflateRawSync(raw, { info: true, maxOutputLength: Math.max(1, size) } as zlib.ZlibOptions) as unknown as typeof result;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "ERR_BUFFER_TOO_LARGE") throw new NpzError("NPZ_SIZE_MISMATCH", `member ${JSON.stringify(name)} inflates past its declared size ${size}`, { cause: err });
    throw new NpzError("NPZ_BAD_DEFLATE", `member ${JSON.stringify(name)}: ${(err as Error).message}`, { cause: err });
  }
  if (result.buffer.length !== size) {
    throw new NpzError("NPZ_SIZE_MISMATCH", `member ${JSON.stringify(name)} inflates to ${result.buffer.length} bytes, declared ${size}`);
  }
  if (result.engine.bytesWritten !== raw.length) {
    throw new NpzError("NPZ_BAD_DEFLATE", `member ${JSON.stringify(name)}: ${raw.length - result.engine.bytesWritten} bytes after the end of the deflate stream`);
  }
  return new Uint8Array(result.buffer.buffer, result.buffer.byteOffset, result.buffer.byteLength);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, "0");
}
