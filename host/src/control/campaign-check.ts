// The filter's own campaign parser, run by the host on every set before it publishes it (start-up,
// reload, admin change). The filter refuses a set its parser refuses and keeps its old one, which
// only its log and nexus_config_load_failures_total would tell: the host would answer "reloaded"
// and lease budget by a set no filter runs. Checking with the same parser (build/nexus_core.wasm,
// the tools entry of the same core, with the filter's limits) makes the host refuse such a set
// with the parser's reason instead.
//
// The filter's parse takes no plugin setting (hash_bits, ...): the check needs none, in standalone
// and sidecar mode alike. The one rule that does, the set's currency against the plugin currency,
// is the filter's own too (CampaignTable.currencyRefusal), asked in standalone mode only. What it does not check is whether the filter can store the set
// in shared data (the standalone host's arena size): a set too large for it is refused by the
// filter only (its log and nexus_config_load_failures_total).
//
// The same module instance also runs the filter's plugin configuration parser, on the sidecar
// host's copy of Envoy's configuration (filterPluginCheck).
import { DEFAULT_CORE_WASM, NexusCore } from "../tools/core.ts";

/** undefined when the filter would load the set (its JSON text as published), else the reason. */
export type CampaignSetCheck = (json: string) => string | undefined;

/** Loaded on the first check, then kept: one small module instance per process. */
let core: NexusCore | undefined;

/**
 * The filter's parser on `json`. Throws ToolError CORE_WASM_MISSING (the host cannot check, so it
 * does not start) when build/nexus_core.wasm is not there.
 */
export const filterParserCheck: CampaignSetCheck = (json) => {
  core ??= NexusCore.loadSync(DEFAULT_CORE_WASM);
  return core.checkCampaigns(json);
};

/**
 * The filter's parser, then the set's `currency` (when it says one) against the filter's account
 * currency, by the filter's own rule: standalone only, where the host runs the filter with its own
 * plugin configuration (in sidecar mode that is Envoy's, and the filter refuses such a set itself:
 * NexusCampaignSetRefused).
 */
export function withAccountCurrency(account: string): CampaignSetCheck {
  return (json) => {
    core ??= NexusCore.loadSync(DEFAULT_CORE_WASM);
    return core.checkCampaigns(json, account);
  };
}

/**
 * The filter's plugin configuration parser on `json`: undefined when the filter would take it, else
 * the reason. For the sidecar host's `plugin`, its copy of Envoy's configuration, which it reads for
 * the lease refill (pacing.hourly_weights) and the budget day (utc_offset_minutes).
 */
export function filterPluginCheck(json: string): string | undefined {
  core ??= NexusCore.loadSync(DEFAULT_CORE_WASM);
  return core.checkPluginConfig(json);
}
