// PID pacing: turns "how far behind or ahead of the day's spend plan are we"
// into a bid shading multiplier. The error is the planned spend so far minus
// the actual spend, as a fraction of the daily budget; positive = behind plan
// (bid more), negative = ahead (bid less). Output is clamped to
// [minMultiplier, maxMultiplier]; the integral only accumulates while the
// output is not saturated in the error's direction (conditional integration,
// the anti-windup), and is itself bounded.

export class PidGains {
  kp: f64 = 80.0;
  ki: f64 = 0.005; // per second of accumulated error
  kd: f64 = 0.0;
  minMultiplier: f64 = 0.05;
  maxMultiplier: f64 = 1.0;
  integralLimit: f64 = 50.0;
}

export class PidController {
  integral: f64 = 0;
  lastError: f64 = 0;
  multiplier: f64 = 1.0;
  initialised: bool = false;

  reset(): void {
    this.integral = 0;
    this.lastError = 0;
    this.multiplier = 1.0;
    this.initialised = false;
  }

  /** One control step; dtSeconds > 0. Returns the new multiplier. */
  update(error: f64, dtSeconds: f64, g: PidGains): f64 {
    if (!(dtSeconds > 0) || !isFinite(dtSeconds) || !isFinite(error)) return this.multiplier;
    const derivative = this.initialised ? (error - this.lastError) / dtSeconds : 0.0;
    this.lastError = error;
    this.initialised = true;

    const base = 1.0;
    const candidateIntegral = clamp(this.integral + error * dtSeconds, -g.integralLimit, g.integralLimit);
    let out = base + g.kp * error + g.ki * candidateIntegral + g.kd * derivative;
    if (out > g.maxMultiplier) {
      out = g.maxMultiplier;
      if (error < 0) this.integral = candidateIntegral; // unwinding is always allowed
    } else if (out < g.minMultiplier) {
      out = g.minMultiplier;
      if (error > 0) this.integral = candidateIntegral;
    } else {
      this.integral = candidateIntegral;
    }
    this.multiplier = out;
    return out;
  }
}

@inline export function clamp(v: f64, lo: f64, hi: f64): f64 {
  return v < lo ? lo : v > hi ? hi : v;
}
