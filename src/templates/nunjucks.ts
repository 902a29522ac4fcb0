/**
 * @module larder/nunjucks — the {% cache %} template tag (issue 4).
 *
 * This entry point exists so the package's export map resolves; the tag lands with the
 * HTTP issue. See the README's status table.
 */
export const available = false;
