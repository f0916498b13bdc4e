// Data-centre IP ranges for the filter's invalid-traffic screen (plugin `invalid_traffic.ip_ranges`,
// docs/PLUGIN_CONFIG.md), read from the files operators download: the cloud providers' published
// lists (AWS ip-ranges.json, Google Cloud cloud.json, Azure Service Tags, Oracle public_ip_ranges.json)
// or a text file of one CIDR block per line. The host downloads nothing; it reads what it is given,
// at start (standalone: NEXUS_IP_RANGES_FILES) or through `nexus-rtb ip-ranges` for an Envoy
// configuration. The filter's parser judges every block again (a bad one fails its start), but
// that error names a list position, not the file and line, and under Envoy it refuses the
// listener at deploy time: so the blocks are checked here as the filter does (an address, a prefix
// length within its family, no bits set below it; stricter on one point: an IPv4 octet with a
// leading zero, which some tools read as octal) and a bad one is refused naming its place.
import { readFileSync } from "node:fs";
import { isIPv4, isIPv6 } from "node:net";
import { NexusError } from "../errors.ts";

/** The filter's limit (assembly/core/traffic/ip-ranges.ts MAX_IP_RANGES). */
export const MAX_IP_RANGES = 65_536;

export class IpRangesError extends NexusError {}

/** An IPv4 or IPv6 address with an optional "/prefix": the shape, not the value (the filter checks that). */
const BLOCK = /^(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)(?:\/\d{1,3})?$/;

/** The 128- or 32-bit value of an address the shape check accepted (undefined if not one). */
function addressBits(addr: string): { bits: bigint; width: number } | undefined {
  if (isIPv4(addr)) return { bits: addr.split(".").reduce((v, o) => (v << 8n) | BigInt(o), 0n), width: 32 };
  if (!isIPv6(addr)) return undefined;
  let text = addr;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = addressBits(v4[1]!)!.bits;
    text = `${text.slice(0, -v4[1]!.length)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.includes("::") ? text.split("::") : [text, undefined];
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = tail === undefined ? left : [...left, ...new Array(8 - left.length - right.length).fill("0"), ...right];
  return { bits: groups.reduce((v, g) => (v << 16n) | BigInt(`0x${g}`), 0n), width: 128 };
}

/**
 * Why the filter would refuse `block` (an address, or address/prefix), or undefined when it takes
 * it. A block with bits set below its prefix is refused, as the filter refuses it: "10.0.0.1/8"
 * was meant as 10.0.0.0/8 or 10.0.0.1/32, and guessing would screen the wrong addresses.
 */
export function blockError(block: string): string | undefined {
  const slash = block.indexOf("/");
  const addr = slash < 0 ? block : block.slice(0, slash);
  const a = addressBits(addr);
  if (a === undefined) return "not an IPv4 or IPv6 address";
  if (slash < 0) return undefined;
  const prefix = Number(block.slice(slash + 1));
  if (!Number.isInteger(prefix) || prefix > a.width) return `prefix length above ${a.width}`;
  const hostBits = (1n << BigInt(a.width - prefix)) - 1n;
  if ((a.bits & hostBits) !== 0n) {
    const net = a.bits & ~hostBits;
    const shown = a.width === 32 ? [24n, 16n, 8n, 0n].map((sh) => String((net >> sh) & 255n)).join(".") : undefined;
    return `bits set below the prefix length${shown ? ` (the network is ${shown}/${prefix})` : ""}`;
  }
  return undefined;
}

/** The blocks of one file, in file order, and the format they were found in. */
export interface IpRangeFile {
  format: "aws" | "gcp" | "azure" | "oracle" | "text";
  blocks: string[];
}

/**
 * The blocks a provider's JSON lists: AWS `prefixes[].ip_prefix` and `ipv6_prefixes[].ipv6_prefix`;
 * Google Cloud `prefixes[].ipv4Prefix|ipv6Prefix`; Azure `values[].properties.addressPrefixes[]`;
 * Oracle `regions[].cidrs[].cidr`. Undefined for a document of none of these shapes.
 */
function fromJson(doc: unknown): IpRangeFile | undefined {
  if (typeof doc !== "object" || doc === null) return undefined;
  const d = doc as Record<string, unknown>;
  const list = (v: unknown): Array<Record<string, unknown>> => (Array.isArray(v) ? v.filter((x): x is Record<string, unknown> => typeof x === "object" && x !== null) : []);
  if (Array.isArray(d.prefixes) && ("ipv6_prefixes" in d || list(d.prefixes).some((p) => "ip_prefix" in p))) {
    const blocks = [...list(d.prefixes).map((p) => p.ip_prefix), ...list(d.ipv6_prefixes).map((p) => p.ipv6_prefix)];
    return { format: "aws", blocks: blocks.filter((b): b is string => typeof b === "string") };
  }
  if (Array.isArray(d.prefixes)) {
    const blocks = list(d.prefixes).map((p) => p.ipv4Prefix ?? p.ipv6Prefix);
    return { format: "gcp", blocks: blocks.filter((b): b is string => typeof b === "string") };
  }
  if (Array.isArray(d.values)) {
    const blocks = list(d.values).flatMap((v) => {
      const props = v.properties as Record<string, unknown> | undefined;
      return Array.isArray(props?.addressPrefixes) ? props.addressPrefixes : [];
    });
    return { format: "azure", blocks: blocks.filter((b): b is string => typeof b === "string") };
  }
  if (Array.isArray(d.regions)) {
    const blocks = list(d.regions).flatMap((r) => list(r.cidrs).map((c) => c.cidr));
    return { format: "oracle", blocks: blocks.filter((b): b is string => typeof b === "string") };
  }
  return undefined;
}

/** Refuses a block (IP_RANGES_INVALID, naming `where`: the file, and its line for text) that is not one the filter takes. */
function checkBlock(block: string, where: string): void {
  if (!BLOCK.test(block)) throw new IpRangesError("IP_RANGES_INVALID", `${where}: "${block}" is not an address or a CIDR block`);
  const why = blockError(block);
  if (why !== undefined) throw new IpRangesError("IP_RANGES_INVALID", `${where}: "${block}": ${why}`);
}

/** One file's blocks. Text: a block per line; `#` starts a comment; blank lines are skipped. */
export function parseIpRanges(text: string, name: string): IpRangeFile {
  const trimmed = text.trimStart();
  let file: IpRangeFile;
  if (trimmed.startsWith("{")) {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new IpRangesError("IP_RANGES_INVALID", `${name}: not valid JSON: ${(err as Error).message}`);
    }
    const found = fromJson(doc);
    if (found === undefined) throw new IpRangesError("IP_RANGES_INVALID", `${name}: a JSON document of no known shape (AWS ip-ranges.json, Google Cloud cloud.json, Azure Service Tags, Oracle public_ip_ranges.json)`);
    for (const b of found.blocks) checkBlock(b, name);
    file = found;
  } else {
    const blocks: string[] = [];
    text.split(/\r?\n/).forEach((line, i) => {
      const block = line.replace(/#.*/, "").trim();
      if (block === "") return;
      checkBlock(block, `${name}:${i + 1}`);
      blocks.push(block);
    });
    file = { format: "text", blocks };
  }
  return file;
}

/** What readIpRangeFiles() found: the distinct blocks, and each file's format and block count. */
export interface IpRangeFiles {
  blocks: string[];
  files: Array<{ path: string; format: IpRangeFile["format"]; blocks: number }>;
}

/**
 * The blocks of every file, in order, without repeats (providers list one block under several
 * services); refused above the filter's limit, naming the count.
 */
export function readIpRangeFiles(paths: string[]): IpRangeFiles {
  const seen = new Set<string>();
  const files: IpRangeFiles["files"] = [];
  for (const path of paths) {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      throw new IpRangesError("IP_RANGES_UNREADABLE", `${path}: ${(err as Error).message}`);
    }
    const file = parseIpRanges(text, path);
    files.push({ path, format: file.format, blocks: file.blocks.length });
    for (const b of file.blocks) seen.add(b.toLowerCase());
  }
  if (seen.size > MAX_IP_RANGES) throw new IpRangesError("IP_RANGES_TOO_MANY", `${seen.size} distinct blocks in ${paths.join(", ")}: the filter takes ${MAX_IP_RANGES} at most`);
  return { blocks: [...seen], files };
}

/** readIpRangeFiles()'s blocks. */
export function readIpRanges(paths: string[]): string[] {
  return readIpRangeFiles(paths).blocks;
}
