// OpenRTB 2.5/2.6 BidRequest: the preallocated model and its parser.
export * from "./request";
export { BidRequestParser } from "./parse";
export { ParseErrorCode, parseErrorLabel, isInvalidJson } from "./errors";
