/**
 * One bounded wait, shared by every place that must not hang on a promise that may never
 * settle (a broker that is down, a server that stopped answering): `promise`, or `late()`'s
 * answer once `ms` have passed. The timer is cleared as soon as either side wins, and unref'd
 * unless the wait is the caller's own (`keepAlive`: a program awaiting it must not exit first).
 */

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
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<T>((resolve, reject) => {
    timer = setTimeout(() => {
      try {
        resolve(late());
      } catch (error) {
        reject(error);
      }
    }, ms);
    if (!options.keepAlive) timer.unref();
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
