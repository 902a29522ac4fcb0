/**
 * The dashboard's static files: uPlot (read from its package with `createRequire`, so it
 * comes from node_modules, never a CDN), the page's script and its stylesheet. Each is
 * served under a name carrying a hash of its content (`dashboard.1a2b3c4d.js`), so it can be
 * cached for a year: a new version has a new name.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { CLIENT_SCRIPT } from './client-script.js';

/** One static file, ready to send. */
export interface Asset {
  /** The hashed file name (`uplot.1a2b3c4d.js`). */
  file: string;
  type: string;
  body: string;
}

/** The files the page links to, by role. */
export interface AssetTable {
  uplotJs: Asset;
  uplotCss: Asset;
  script: Asset;
  style: Asset;
  /** Every asset by hashed file name. */
  byFile: ReadonlyMap<string, Asset>;
}

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 0 16px 32px; color: #111; }
header p { color: #555; }
h2 { border-bottom: 1px solid #ddd; padding-bottom: 4px; margin-top: 28px; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(360px, 1fr)); gap: 12px; }
figure { margin: 0; }
figcaption { font-weight: 600; margin-bottom: 4px; }
.chart { min-height: 160px; }
table { border-collapse: collapse; margin-top: 8px; }
th, td { padding: 3px 10px; text-align: right; border-bottom: 1px solid #eee; font-variant-numeric: tabular-nums; }
th:first-child, td:first-child { text-align: left; }
tbody th { font-weight: normal; }
dl.figures { display: flex; flex-wrap: wrap; gap: 8px 28px; }
dl.figures div { min-width: 110px; }
dl.figures dt { color: #555; }
dl.figures dd { margin: 0; font-size: 20px; font-variant-numeric: tabular-nums; }
.note { color: #666; }
.error { color: #b91c1c; }
`;

let table: AssetTable | undefined;

/**
 * The asset table, built on first use (reads uPlot's two files once).
 *
 * @example const { uplotJs } = dashboardAssets(); `${base}/assets/${uplotJs.file}`
 */
export function dashboardAssets(): AssetTable {
  if (table) return table;
  const require = createRequire(import.meta.url);
  const read = (path: string) => readFileSync(require.resolve(path), 'utf8');
  const uplotJs = asset('uplot', 'js', read('uplot/dist/uPlot.iife.min.js'));
  const uplotCss = asset('uplot', 'css', read('uplot/dist/uPlot.min.css'));
  const script = asset('dashboard', 'js', CLIENT_SCRIPT);
  const style = asset('dashboard', 'css', STYLE);
  table = {
    uplotJs,
    uplotCss,
    script,
    style,
    byFile: new Map([uplotJs, uplotCss, script, style].map((a) => [a.file, a])),
  };
  return table;
}

function asset(name: string, ext: 'js' | 'css', body: string): Asset {
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 10);
  return {
    file: `${name}.${hash}.${ext}`,
    type: ext === 'js' ? 'text/javascript; charset=utf-8' : 'text/css; charset=utf-8',
    body,
  };
}
