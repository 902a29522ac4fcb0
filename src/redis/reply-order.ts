/**
 * Deadlines for one socket whose replies come back in the order commands were sent
 * (RESP guarantees it): no wrapper promise and no object per command — two numbers go
 * into a ring when a command is sent, and come out when any reply arrives.
 *
 * When a command in flight outlives its deadline, nothing younger on that socket can
 * have been answered either (the reply to the older one comes first), so the whole
 * socket is stalled: the connection replaces it, which fails everything in flight there
 * at once. This is the cheap path `RedisConnection` takes for the clients it owns on one
 * socket each (standalone, primary + replicas); Cluster and Sentinel clients multiplex
 * several sockets behind one object, so they use `DeadlineTracker` instead.
 *
 * Hand-written: this is larder's own idea (a reply-order deadline ring), not a library's.
 */

/** In-flight deadlines of one socket, oldest first. */
export class ReplyOrderDeadlines {
  /** Absolute deadlines (coarse ticks), a ring laid over a plain array. */
  #deadlines: number[] = [];
  /** Each command's budget in ms, for the error message. */
  #budgets: number[] = [];
  #head = 0;
  /** Set once the socket was declared stalled: the budget that ran out, in ms. */
  stalledAfterMs: number | undefined;

  /** Commands sent on this socket and not yet answered. */
  get size(): number {
    return this.#deadlines.length - this.#head;
  }

  /** Records a command sent at `tick` with `budgetTicks` to answer it. */
  push(tick: number, budgetTicks: number, budgetMs: number): void {
    this.#deadlines.push(tick + budgetTicks);
    this.#budgets.push(budgetMs);
  }

  /** A reply arrived: the oldest command is done. */
  shift(): void {
    if (this.#head >= this.#deadlines.length) return;
    this.#head++;
    if (this.#head === this.#deadlines.length) {
      // Empty: start over without copying.
      this.#deadlines.length = 0;
      this.#budgets.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#deadlines.length) {
      this.#deadlines = this.#deadlines.slice(this.#head);
      this.#budgets = this.#budgets.slice(this.#head);
      this.#head = 0;
    }
  }

  /**
   * The budget (ms) of a command in flight whose deadline has passed at `tick`, or
   * `undefined`. Budgets differ per call, so every entry is checked (the ring holds only
   * what is in flight).
   */
  expired(tick: number): number | undefined {
    const deadlines = this.#deadlines;
    for (let i = this.#head; i < deadlines.length; i++) {
      if (deadlines[i]! < tick) return this.#budgets[i];
    }
    return undefined;
  }
}
