/**
 * The storefront's catalog: a deliberately slow query per region, so the cache's effect is
 * visible. (SQLite arrives with the full demo; the data here is a fixed list.)
 */
export const REGIONS = ['us', 'eu', 'apac'] as const;
export type Region = (typeof REGIONS)[number];

export interface Product {
  sku: string;
  name: string;
  price: number;
  currency: string;
}

const BASE: Array<Omit<Product, 'price' | 'currency'> & { usd: number }> = [
  { sku: 'kettle', name: 'Stovetop kettle', usd: 39 },
  { sku: 'grinder', name: 'Burr coffee grinder', usd: 129 },
  { sku: 'press', name: 'French press', usd: 34 },
  { sku: 'scale', name: 'Pour-over scale', usd: 49 },
];
/** Every product id (`sku`), the same in every region. */
export const SKUS: readonly string[] = BASE.map((p) => p.sku);

const CURRENCY: Record<Region, { code: string; rate: number }> = {
  us: { code: 'USD', rate: 1 },
  eu: { code: 'EUR', rate: 0.92 },
  apac: { code: 'SGD', rate: 1.35 },
};

/** Milliseconds the "query" takes; tests set it lower. */
export const SLOW_QUERY_MS = Number(process.env.STOREFRONT_QUERY_MS ?? 300);

/** The region's catalog, the slow way (what the cache saves). */
export async function queryCatalog(region: Region): Promise<Product[]> {
  await new Promise((resolve) => setTimeout(resolve, SLOW_QUERY_MS));
  const { code, rate } = CURRENCY[region];
  return BASE.map(({ usd, ...p }) => ({ ...p, price: Math.round(usd * rate * 100) / 100, currency: code }));
}
