// Data-centre IP ranges for the filter's invalid-traffic screen (plugin `invalid_traffic.ip_ranges`,
// docs/PLUGIN_CONFIG.md), read from the files operators download: the cloud providers' published
// lists (AWS ip-ranges.json, Google Cloud cloud.json, Azure Service Tags, Oracle public_ip_ranges.json)
// or a text file of one CIDR block per line. The host downloads nothing; it reads what it is given,
// at start (standalone: NEXUS_IP_RANGES_FILES) or through `nexus-rtb ip-ranges` for an Envoy
// configuration. The filter's parser is the judge of every block (a bad one fails its start, naming
// the element); this module only finds the blocks in each format and refuses what is plainly not one.
import { readFileSync } from "node:fs";
import { NexusError } from "../errors.ts";

/** The filter's limit (assembly/core/traffic/ip-ranges.ts MAX_IP_RANGES). */
export const MAX_IP_RANGES = 65_536;

export class IpRangesError extends NexusError {}

/** An IPv4 or IPv6 address with an optional "/prefix": the shape, not the value (the filter checks that). */
const BLOCK = /^(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)(?:\/\d{1,3})?$/;

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
    for (const b of found.blocks) {
      if (!BLOCK.test(b)) throw new IpRangesError("IP_RANGES_INVALID", `${name}: "${b}" is not an address or a CIDR block`);
    }
    file = found;
  } else {
    const blocks: string[] = [];
    text.split(/\r?\n/).forEach((line, i) => {
      const block = line.replace(/#.*/, "").trim();
      if (block === "") return;
      if (!BLOCK.test(block)) throw new IpRangesError("IP_RANGES_INVALID", `${name}:${i + 1}: "${block}" is not an address or a CIDR block`);
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
