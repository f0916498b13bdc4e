// FTRL-Proximal logistic regression (McMahan et al., "Ad Click Prediction: a
// View from the Trenches", KDD 2013, Algorithm 1) over binary hashed features:
// per-coordinate learning rates from the accumulated squared gradients, L1 and
// L2 regularisation, lazy weights computed from (z, n). The bias is an ordinary
// coordinate that is always active and never L1-regularised.

export class FtrlParams {
  alpha: f64 = 0.05;
  beta: f64 = 1.0;
  l1: f64 = 1.0;
  l2: f64 = 1.0;
}

export class FtrlModel {
  readonly size: i32;
  readonly z: StaticArray<f64>;
  readonly n: StaticArray<f64>;
  zBias: f64 = 0;
  nBias: f64 = 0;
  readonly p: FtrlParams;

  constructor(hashBits: i32, p: FtrlParams) {
    const size = 1 << hashBits;
    this.z = new StaticArray<f64>(size);
    this.n = new StaticArray<f64>(size);
    this.size = size;
    this.p = p;
  }

  @inline private weightOf(z: f64, n: f64, l1: f64): f64 {
    const sign: f64 = z < 0 ? -1.0 : 1.0;
    if (Math.abs(z) <= l1) return 0.0;
    return -(z - sign * l1) / ((this.p.beta + Math.sqrt(n)) / this.p.alpha + this.p.l2);
  }

  weight(i: i32): f64 {
    return this.weightOf(unchecked(this.z[i]), unchecked(this.n[i]), this.p.l1);
  }

  bias(): f64 {
    return this.weightOf(this.zBias, this.nBias, 0.0);
  }

  /**
   * Sets the bias weight to `w` (e.g. the log-odds of the base rate) by
   * solving the lazy-weight formula for zBias at the current nBias. FTRL's
   * update keeps a weight unchanged under a zero gradient, so the bias starts
   * there and learns from it; features then learn deviations from the base
   * rate instead of each absorbing a share of it.
   */
  setBias(w: f64): void {
    this.zBias = -w * ((this.p.beta + Math.sqrt(this.nBias)) / this.p.alpha + this.p.l2);
  }

  /** Probability for the active buckets idx[0..count). */
  predict(idx: usize, count: i32): f64 {
    let s = this.bias();
    const mask = <u32>this.size - 1;
    for (let k = 0; k < count; k++) s += this.weight(<i32>(load<u32>(idx + (<usize>k << 2)) & mask));
    if (s > 35) s = 35;
    else if (s < -35) s = -35;
    return 1.0 / (1.0 + Math.exp(-s));
  }

  /**
   * One online step on an example with label y ∈ {0, 1}; returns the prediction made before the
   * update. A bucket listed c times is one coordinate with x = c (the filter's score counts it c
   * times): one step with gradient c·g, as Algorithm 1 takes it, not c steps of g.
   */
  update(idx: usize, count: i32, y: f64): f64 {
    const p = this.predict(idx, count);
    const g = p - y; // gradient of log loss w.r.t. the margin, for each active binary feature
    const g2 = g * g;
    const alpha = this.p.alpha;
    const mask = <u32>this.size - 1;
    for (let k = 0; k < count; k++) {
      const i = <i32>(load<u32>(idx + (<usize>k << 2)) & mask);
      const c = occurrences(idx, count, k, <u32>i, mask);
      if (c == 0) continue; // listed before: its step is taken
      const gi = g * <f64>c;
      const gi2 = c == 1 ? g2 : gi * gi;
      const n = unchecked(this.n[i]);
      const w = this.weightOf(unchecked(this.z[i]), n, this.p.l1);
      const sigma = (Math.sqrt(n + gi2) - Math.sqrt(n)) / alpha;
      unchecked((this.z[i] += gi - sigma * w));
      unchecked((this.n[i] = n + gi2));
    }
    const wb = this.bias();
    const sb = (Math.sqrt(this.nBias + g2) - Math.sqrt(this.nBias)) / alpha;
    this.zBias += g - sb * wb;
    this.nBias += g2;
    return p;
  }
}

/**
 * How many times bucket `i` is listed at positions k.. of idx[0..count), or 0 when it is listed
 * before k (bucket lists are short, ≤ 96, and hold a repeat in about 1 row of 10,000).
 */
function occurrences(idx: usize, count: i32, k: i32, i: u32, mask: u32): i32 {
  for (let j = 0; j < k; j++) if ((load<u32>(idx + (<usize>j << 2)) & mask) == i) return 0;
  let c = 1;
  for (let j = k + 1; j < count; j++) if ((load<u32>(idx + (<usize>j << 2)) & mask) == i) c++;
  return c;
}
