/**
 * One bounded wait, shared by every place that must not hang on a promise that may never
 * settle (a broker that is down, a server that stopped answering): `promise`, or `late()`'s
 * answer once `ms` have passed. The timer is cleared as soon as either side wins, and unref'd
 * unless the wait is the caller's own (`keepAlive`: a program awaiting it must not exit first).
 */
import { cancel, type LongTimer, later } from './timers.js';

/**
 * `promise`, or `late()` (a value, or a throw) if it has not settled within `ms`.
 *
 * @example const counts = await within(queue.getJobCounts(), 2000, () => ({}));
 * @example await within(client.connect(), 5000, () => { throw new Error('not connected within 5000 ms'); });
 */
export function within<T>(
  promise: Promise<T>,
  ms: number,
  late: () => T,
  options: { keepAlive?: boolean } = {},
): Promise<T> {
  let timer: LongTimer | undefined;
  const deadline = new Promise<T>((resolve, reject) => {
    // `later`, not setTimeout: a wait past 2^31-1 ms (a '30d' hardTimeout) must not end at once.
    timer = later(
      () => {
        try {
          resolve(late());
        } catch (error) {
          reject(error);
        }
      },
      ms,
      { unref: !options.keepAlive },
    );
  });
  return Promise.race([promise, deadline]).finally(() => cancel(timer));
}
