// Public API of the model subsystem (formats, verification, loading, signing).
export * from "./errors.ts";
export * from "./model.ts";
export { readZip, crc32, type ZipEntry, type ZipReadOptions } from "./zip.ts";
export { parseNpy, type NpyArray, type NpyDtype } from "./npy.ts";
export * from "./npz.ts";
export * from "./nxm.ts";
export * from "./digest.ts";
export * from "./signing.ts";
export * from "./load.ts";
export * from "./sign-cli.ts";
