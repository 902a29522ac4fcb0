/**
 * @module larder/ratelimit — rate limiting (issue 6).
 *
 * This entry point exists so the package's export map resolves; the capability lands
 * with its issue. See the README's status table.
 */
export const available = false;
