/**
 * @module larder/realtime — pub/sub and event streams (issue 9).
 *
 * This entry point exists so the package's export map resolves; the capability lands
 * with its issue. See the README's status table.
 */
export const available = false;
