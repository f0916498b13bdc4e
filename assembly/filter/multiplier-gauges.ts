// The pacing gauges, one per campaign: nexus_pacing_multiplier_ppm.<campaign id>, the leader's
// multiplier × 10⁶. Envoy keeps a metric once it is defined (defining the name again gives the
// same metric), so the gauge of a campaign that leaves the set would keep its last value for
// ever: at the pacing floor, the NexusSpendAbovePace alert (prometheus/alerts.yml) would keep
// firing for a campaign that no longer exists. Such a gauge is set to NEUTRAL_PPM instead.
import { defineMetric, recordMetric, MetricType } from "../proxy-wasm";
import { CampaignTable } from "../core/bidding/campaign";

const NAME_PREFIX = "nexus_pacing_multiplier_ppm.";
/** Multiplier 1 (not shading): what a campaign no longer in the set reads. */
export const NEUTRAL_PPM: u64 = 1_000_000;

export class MultiplierGauges {
  /** Metric ids, in the order of the current campaign table. */
  private gauges: Array<u32> = new Array<u32>();
  /** The campaign id of each gauge (to find the campaigns the next set drops). */
  private campaignIds: Array<string> = new Array<string>();

  /**
   * A new campaign set: defines its campaigns' gauges, and sets the gauges of the campaigns it
   * no longer has to NEUTRAL_PPM. Allocates: called only when the campaign set changes.
   */
  bind(table: CampaignTable): void {
    const gauges = new Array<u32>();
    const campaignIds = new Array<string>();
    const present = new Set<string>();
    for (let i = 0; i < table.size; i++) {
      const id = table.at(i).id.toString();
      campaignIds.push(id);
      present.add(id);
      gauges.push(defineMetric(MetricType.GAUGE, NAME_PREFIX + id));
    }
    for (let i = 0; i < this.campaignIds.length; i++) {
      if (!present.has(unchecked(this.campaignIds[i]))) recordMetric(unchecked(this.gauges[i]), NEUTRAL_PPM);
    }
    this.gauges = gauges;
    this.campaignIds = campaignIds;
  }

  /** The multiplier of the campaign at `index` in the current table. Allocates nothing (the leader's tick). */
  record(index: i32, multiplier: f64): void {
    if (index < this.gauges.length) recordMetric(unchecked(this.gauges[index]), <u64>(multiplier * 1e6));
  }
}
