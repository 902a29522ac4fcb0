/**
 * The storefront's SQLite database (better-sqlite3): products with a price and a stock
 * count per region, and the orders the `confirm-order` task records. The schema is created
 * and the catalog seeded on first open, so `npm start` needs nothing installed.
 *
 * The file is `examples/storefront/data/storefront.db` (gitignored) unless STOREFRONT_DB
 * names another; `:memory:` keeps the database inside one process (the tests). Several
 * processes (`npm run start:cluster`) share one file: WAL lets them read while one writes,
 * and seeding is one idempotent transaction, so two processes starting together are fine.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

/** Where `npm start` keeps its database unless STOREFRONT_DB says otherwise. */
export const DEFAULT_DB = fileURLToPath(new URL('./data/storefront.db', import.meta.url));

/** The database file from STOREFRONT_DB, else {@link DEFAULT_DB}. */
export const databasePath = (env: NodeJS.ProcessEnv = process.env) => env.STOREFRONT_DB || DEFAULT_DB;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS products (
    sku  TEXT PRIMARY KEY,
    name TEXT NOT NULL
  );
  -- Prices in cents (no floating point in money); stock never goes below zero.
  CREATE TABLE IF NOT EXISTS prices (
    sku         TEXT NOT NULL REFERENCES products(sku),
    region      TEXT NOT NULL,
    price_cents INTEGER NOT NULL CHECK (price_cents > 0),
    currency    TEXT NOT NULL,
    stock       INTEGER NOT NULL CHECK (stock >= 0),
    PRIMARY KEY (sku, region)
  );
  CREATE TABLE IF NOT EXISTS orders (
    id           TEXT PRIMARY KEY,
    region       TEXT NOT NULL,
    customer     TEXT,
    total        TEXT NOT NULL,
    currency     TEXT NOT NULL,
    confirmed_at TEXT NOT NULL
  );
  CREATE TABLE IF NOT EXISTS order_lines (
    order_id TEXT NOT NULL REFERENCES orders(id),
    sku      TEXT NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (order_id, sku)
  );
`;

/** The seed: US prices; the other regions convert and round to the cent. */
const PRODUCTS = [
  { sku: 'kettle', name: 'Stovetop kettle', usd: 39, stock: 40 },
  { sku: 'grinder', name: 'Burr coffee grinder', usd: 129, stock: 12 },
  { sku: 'press', name: 'French press', usd: 34, stock: 60 },
  { sku: 'scale', name: 'Pour-over scale', usd: 49, stock: 25 },
];

/** Each region's currency and rate from USD. */
export const CURRENCIES = {
  us: { code: 'USD', rate: 1 },
  eu: { code: 'EUR', rate: 0.92 },
  apac: { code: 'SGD', rate: 1.35 },
} as const;

/**
 * Opens (creating and seeding when new) the storefront database at `file`.
 *
 * @example
 * const db = openDatabase(':memory:');
 * db.prepare('SELECT count(*) AS n FROM products').get(); // { n: 4 }
 */
export function openDatabase(file: string): Database.Database {
  if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const db = new Database(file);
  // Wait for another process's write instead of failing at once with SQLITE_BUSY.
  db.pragma('busy_timeout = 5000');
  if (file !== ':memory:') db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  db.exec(SCHEMA);
  seed(db);
  return db;
}

/** Inserts the seed products unless they are there (safe to run from several processes at once). */
function seed(db: Database.Database): void {
  const product = db.prepare('INSERT OR IGNORE INTO products (sku, name) VALUES (?, ?)');
  const price = db.prepare(
    'INSERT OR IGNORE INTO prices (sku, region, price_cents, currency, stock) VALUES (?, ?, ?, ?, ?)',
  );
  // IMMEDIATE: take the write lock first, so two seeders queue instead of deadlocking.
  db.transaction(() => {
    for (const p of PRODUCTS) {
      product.run(p.sku, p.name);
      for (const [region, { code, rate }] of Object.entries(CURRENCIES)) {
        price.run(p.sku, region, Math.round(p.usd * rate * 100), code, p.stock);
      }
    }
  }).immediate();
}
