// nexus-rtb ip-ranges --file FILE [--file FILE ...]: the filter's `invalid_traffic` plugin field
// built from data-centre range files (control/ip-ranges.ts: the cloud providers' JSON lists or a
// text file of CIDR blocks), for an Envoy configuration (envoy.yaml's plugin `configuration`):
// the JSON goes to stdout, what was read to stderr. Exit 0; 1 when a file cannot be read or is
// of no known format; 2 for a bad command line.
import { IpRangesError, readIpRangeFiles } from "../control/ip-ranges.ts";
import type { Values } from "../tools/args.ts";

export const IP_RANGES_USAGE = "usage: nexus-rtb ip-ranges --file FILE [--file FILE ...]\n";

export function ipRanges(values: Values): number {
  const files = Array.isArray(values.file) ? values.file : [];
  if (files.length === 0) {
    process.stderr.write(`ip-ranges: --file FILE is required\n\n${IP_RANGES_USAGE}`);
    return 2;
  }
  try {
    const { blocks, files: read } = readIpRangeFiles(files);
    for (const f of read) process.stderr.write(`${f.path}: ${f.blocks} block(s), ${f.format}\n`);
    process.stderr.write(`${blocks.length} distinct block(s): put "invalid_traffic" in the filter's plugin configuration (docs/PLUGIN_CONFIG.md)\n`);
    process.stdout.write(JSON.stringify({ invalid_traffic: { ip_ranges: blocks } }) + "\n");
    return 0;
  } catch (err) {
    if (!(err instanceof IpRangesError)) throw err;
    process.stderr.write(`${err.code}: ${err.message}\n`);
    return 1;
  }
}
