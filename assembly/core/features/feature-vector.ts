// Active feature buckets of one impression (binary features: a bucket listed
// twice counts twice, in the filter and in the trainer alike).

export const MAX_FEATURES: i32 = 96;

export class FeatureVector {
  readonly indices: StaticArray<u32> = new StaticArray<u32>(MAX_FEATURES);
  count: i32 = 0;
  /** Features that did not fit (should stay 0; counted so it is visible). */
  dropped: i32 = 0;

  @inline reset(): void {
    this.count = 0;
    this.dropped = 0;
  }

  @inline push(bucket: u32): void {
    if (this.count < MAX_FEATURES) {
      unchecked((this.indices[this.count] = bucket));
      this.count++;
    } else {
      this.dropped++;
    }
  }

  @inline at(i: i32): u32 {
    return unchecked(this.indices[i]);
  }
}
