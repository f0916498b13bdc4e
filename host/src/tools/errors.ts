// Errors of the offline tools (train, replay, loadgen) with stable codes.
import { NexusError } from "../errors.ts";

export type ToolErrorCode =
  | "USAGE" // bad command line (unknown flag, bad value, missing required flag)
  | "CORE_WASM_MISSING" // build/nexus_core.wasm not built
  | "CORE_EXPORT_MISSING" // the .wasm lacks an export the wrapper needs (stale build)
  | "CORE_INPUT_TOO_LARGE" // more bytes than the core's input buffer holds
  | "CORE_MODEL_REJECTED" // the core refused an NXM blob (its ModelError code is in the message)
  | "CORE_NO_MODEL" // score() before loadModel()
  | "CORE_NOT_INITIALISED" // ftrl*() before ftrlInit()
  | "NO_DATA" // a data file gave no usable rows
  | "BAD_DATA" // data that cannot be used as asked (e.g. no clicks to evaluate an AUC on)
  | "OUTPUT_EXISTS" // refusing to overwrite an output
  | "KEY_INVALID" // the signing key cannot be read or is not an Ed25519 private key
  | "OUTPUT_UNWRITABLE"; // an output file cannot be written (permissions, a file in the way)

export class ToolError extends NexusError {
  constructor(code: ToolErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = "ToolError";
  }
}

/** A bad command line: the tool prints the message and its usage, exit code 2. */
export class UsageError extends ToolError {
  constructor(message: string) {
    super("USAGE", message);
    this.name = "UsageError";
  }
}
