// Errors of the data readers (iPinYou logs, event logs) with stable codes.
// Malformed lines are not errors: they are skipped and counted (lines.ts).
import { NexusError } from "../errors.ts";

export type DataErrorCode =
  | "DATA_UNREADABLE" // the file cannot be opened or read
  | "DATA_EMPTY" // no usable line at all
  | "FEATINDEX_LAYOUT_UNKNOWN" // libFM indices match no known featindex layout
  | "FEATINDEX_MISSING" // a libFM file without its featindex
  | "DATA_BAD_RECORD"; // a record the mapping cannot use (e.g. an invalid timestamp)

export class DataError extends NexusError {
  constructor(code: DataErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = "DataError";
  }
}
