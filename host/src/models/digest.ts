// Detached SHA-256 digest files (`<model>.sha256`).
//
// Content: the lowercase hex SHA-256 of the model file, optionally followed by
// the `sha256sum` suffix ("  <file name>" in text mode, " *<file name>" in
// binary mode), optionally ended by one newline ("\n" or "\r\n"). One line only.
// Upper-case hex is accepted and normalized. The file name is informational and
// not compared (models are often downloaded under temporary names).
import { createHash } from "node:crypto";
import { basename } from "node:path";

export const MAX_DIGEST_FILE_BYTES = 4096;

export function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(bytes).digest());
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Text written to `<model>.sha256`: "<hex>  <basename>\n", exactly as `sha256sum` writes it. */
export function formatDigestFile(hex: string, fileName?: string): string {
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new TypeError("digest must be 64 lowercase hex digits");
  return fileName === undefined ? `${hex}\n` : `${hex}  ${basename(fileName)}\n`;
}

export interface ParsedDigestFile {
  /** Lowercase hex digest. */
  hex: string;
  /** File name after the digest, when present. */
  fileName?: string;
}

/** Parses a `.sha256` file. Returns undefined when the content is malformed. */
export function parseDigestFile(content: string | Uint8Array): ParsedDigestFile | undefined {
  let text: string;
  if (typeof content === "string") text = content;
  else {
    if (content.length > MAX_DIGEST_FILE_BYTES) return undefined;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(content);
    } catch {
      return undefined;
    }
  }
  if (text.length > MAX_DIGEST_FILE_BYTES) return undefined;
  if (text.endsWith("\r\n")) text = text.slice(0, -2);
  else if (text.endsWith("\n")) text = text.slice(0, -1);
  if (/[\r\n]/.test(text)) return undefined;
  const m = /^([0-9a-fA-F]{64})(?:(?: {2}| \*)([^\0]+))?$/.exec(text);
  if (!m) return undefined;
  const hex = m[1]!.toLowerCase();
  return m[2] === undefined ? { hex } : { hex, fileName: m[2] };
}
