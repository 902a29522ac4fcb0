/**
 * A circuit breaker for one connection: after `threshold` consecutive failures it opens
 * and calls fail at once for `cooldownMs`; then one probe is let through (half-open), and
 * its result closes or re-opens the circuit.
 *
 * Hand-written: the three states fit in 60 lines; opossum and friends wrap functions
 * (a closure and a timer per call), which is the per-command cost larder avoids.
 */

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** Consecutive failures that open the circuit. @default 5 */
  threshold?: number;
  /** How long the circuit stays open before a probe, in ms. @default 1000 */
  cooldownMs?: number;
}

export class CircuitBreaker {
  readonly threshold: number;
  readonly cooldownMs: number;
  #failures = 0;
  #openedAt = 0;
  #state: BreakerState = 'closed';
  #probing = false;

  constructor(options: BreakerOptions = {}) {
    this.threshold = options.threshold ?? 5;
    this.cooldownMs = options.cooldownMs ?? 1000;
  }

  get state(): BreakerState {
    if (this.#state === 'open' && Date.now() - this.#openedAt >= this.cooldownMs) this.#state = 'half-open';
    return this.#state;
  }

  /** True when a call may go out now. In half-open state, only one probe at a time. */
  allow(): boolean {
    if (this.#state === 'closed') return true;
    if (this.state === 'open') return false;
    if (this.#probing) return false;
    this.#probing = true;
    return true;
  }

  success(): void {
    if (this.#state === 'closed' && this.#failures === 0) return;
    this.#failures = 0;
    this.#state = 'closed';
    this.#probing = false;
  }

  failure(): void {
    this.#probing = false;
    this.#failures++;
    if (this.#state === 'half-open' || this.#failures >= this.threshold) {
      this.#state = 'open';
      this.#openedAt = Date.now();
    }
  }

  /**
   * A call let through never reached the server (its arguments were refused before
   * sending): it proves nothing either way, so another call may be the half-open probe.
   */
  release(): void {
    this.#probing = false;
  }

  /** Opens the circuit at once (the connection is known to be down). */
  trip(): void {
    this.#failures = this.threshold;
    this.#probing = false;
    this.#state = 'open';
    this.#openedAt = Date.now();
  }
}
