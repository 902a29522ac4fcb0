/**
 * Time windows: which bucket an instant falls in. Buckets are UTC calendar periods — a day,
 * an ISO 8601 week (Monday to Sunday; the year is the year of its Thursday), a month — so
 * every app server agrees on the boundaries without talking to the others.
 */

/** A board's period: one bucket per UTC day, ISO week or month. */
export type LeaderboardWindow = 'daily' | 'weekly' | 'monthly';

/** The windows larder knows, for validation messages. */
export const WINDOWS: readonly LeaderboardWindow[] = ['daily', 'weekly', 'monthly'];

/** One bucket: its id (`2026-11-26`, `2026-W48`, `2026-11`) and `[start, end)` in epoch ms. */
export interface Bucket {
  id: string;
  start: number;
  end: number;
}

const DAY = 86_400_000;

/** The longest bucket of each window: how long a finished bucket is kept by default. */
export const WINDOW_LENGTH: Record<LeaderboardWindow, number> = {
  daily: DAY,
  weekly: 7 * DAY,
  monthly: 31 * DAY,
};

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/**
 * The bucket of `window` that holds instant `t` (epoch ms).
 *
 * @example bucketOf('weekly', Date.UTC(2026, 10, 26)) // { id: '2026-W48', start: …, end: … }
 */
export function bucketOf(window: LeaderboardWindow, t: number): Bucket {
  const day = Math.floor(t / DAY);
  switch (window) {
    case 'daily': {
      const d = new Date(day * DAY);
      return {
        id: `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`,
        start: day * DAY,
        end: (day + 1) * DAY,
      };
    }
    case 'weekly': {
      // 1970-01-01 was a Thursday: (day + 3) % 7 is 0 on Mondays.
      const monday = day - ((((day + 3) % 7) + 7) % 7);
      const thursday = new Date((monday + 3) * DAY);
      const year = thursday.getUTCFullYear();
      const week = Math.floor((thursday.getTime() - Date.UTC(year, 0, 1)) / (7 * DAY)) + 1;
      return { id: `${year}-W${pad(week)}`, start: monday * DAY, end: (monday + 7) * DAY };
    }
    case 'monthly': {
      const d = new Date(t);
      const y = d.getUTCFullYear();
      const m = d.getUTCMonth();
      return { id: `${y}-${pad(m + 1)}`, start: Date.UTC(y, m, 1), end: Date.UTC(y, m + 1, 1) };
    }
  }
}

/** The `count` buckets ending with the one that holds `t`, newest first. */
export function lastBuckets(window: LeaderboardWindow, t: number, count: number): Bucket[] {
  const out: Bucket[] = [];
  let at = t;
  for (let i = 0; i < count; i++) {
    const bucket = bucketOf(window, at);
    out.push(bucket);
    at = bucket.start - 1;
  }
  return out;
}
