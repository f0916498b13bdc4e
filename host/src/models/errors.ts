// Typed errors for model loading. Every failure carries a stable `code`
// (listed in README.md); messages are for humans and may change.

/** Zip container (.npz) errors. */
export type NpzErrorCode =
  | "NPZ_NOT_ZIP" // no zip structure at all
  | "NPZ_TRUNCATED" // a record or member extends past the end of the file
  | "NPZ_MALFORMED" // a record is inconsistent (bad signature, names or sizes differ between headers, bad extra field)
  | "NPZ_UNSUPPORTED" // multi-disk archives, patched data, too many entries
  | "NPZ_ENCRYPTED" // traditional, strong or central-directory encryption
  | "NPZ_UNSUPPORTED_METHOD" // compression other than STORED (0) or DEFLATED (8)
  | "NPZ_BAD_OFFSET" // out-of-range or overlapping member, or a gap around the central directory
  | "NPZ_SIZE_MISMATCH" // declared and actual sizes differ
  | "NPZ_BAD_DEFLATE" // the deflate stream is corrupt or has trailing bytes
  | "NPZ_BAD_CRC" // CRC-32 of a member does not match
  | "NPZ_DUPLICATE_ENTRY" // two members with the same name
  | "NPZ_TOO_LARGE"; // uncompressed total above the limit (zip bomb guard)

/** .npy array errors. */
export type NpyErrorCode =
  | "NPY_BAD_MAGIC"
  | "NPY_BAD_VERSION"
  | "NPY_TRUNCATED"
  | "NPY_BAD_HEADER"
  | "NPY_BAD_DTYPE"
  | "NPY_FORTRAN_ORDER"
  | "NPY_SIZE_MISMATCH";

/** Model-level (format independent) errors. */
export type ModelContentErrorCode =
  | "MODEL_MISSING_ARRAY"
  | "MODEL_BAD_SHAPE"
  | "MODEL_NONFINITE"
  | "MODEL_BAD_HASH_BITS";

/** NXM v1 errors. */
export type NxmErrorCode =
  | "NXM_BAD_MAGIC"
  | "NXM_TRUNCATED"
  | "NXM_BAD_HEADER_LENGTH"
  | "NXM_BAD_HASH_BITS"
  | "NXM_BAD_ENCODING"
  | "NXM_BAD_RESERVED"
  | "NXM_BAD_BIAS"
  | "NXM_BAD_COUNT"
  | "NXM_BAD_INDEX"
  | "NXM_BAD_WEIGHT"
  | "NXM_TRAILING_BYTES";

/** Digest / signature verification reasons that refuse a model. */
export type VerifyFailureCode =
  | "DIGEST_MISSING"
  | "DIGEST_MALFORMED"
  | "DIGEST_MISMATCH"
  | "SIGNATURE_MISSING"
  | "SIGNATURE_INVALID"
  | "PUBLIC_KEY_MISSING";

/** Key handling errors. */
export type KeyErrorCode = "KEY_INVALID" | "KEY_EXISTS";

/** File-level errors of loadModelFile. */
export type LoadErrorCode =
  | "MODEL_FORMAT_REFUSED" // .pkl/.pickle/.joblib or any unknown extension
  | "MODEL_FORMAT_MISMATCH" // extension and magic bytes disagree
  | "MODEL_NOT_FOUND"
  | "MODEL_READ_FAILED"
  | "MODEL_TOO_LARGE"
  | "MODEL_HASH_BITS_MISMATCH"; // a valid model whose hash_bits differ from the filter's (ModelRegistry)

export type ModelErrorCode =
  | NpzErrorCode
  | NpyErrorCode
  | ModelContentErrorCode
  | NxmErrorCode
  | VerifyFailureCode
  | KeyErrorCode
  | LoadErrorCode;

/** Base class of every error thrown by host/src/models. */
export class ModelError extends Error {
  readonly code: ModelErrorCode;
  constructor(code: ModelErrorCode, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.name = "ModelError";
    this.code = code;
  }
}

export class NpzError extends ModelError {
  constructor(code: NpzErrorCode | NpyErrorCode | ModelContentErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = "NpzError";
  }
}

export class NxmError extends ModelError {
  constructor(code: NxmErrorCode | ModelContentErrorCode, message: string) {
    super(code, message);
    this.name = "NxmError";
  }
}

export class ModelVerificationError extends ModelError {
  constructor(code: VerifyFailureCode, message: string) {
    super(code, message);
    this.name = "ModelVerificationError";
  }
}

export class KeyError extends ModelError {
  constructor(code: KeyErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = "KeyError";
  }
}

export class ModelLoadError extends ModelError {
  constructor(code: LoadErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = "ModelLoadError";
  }
}
