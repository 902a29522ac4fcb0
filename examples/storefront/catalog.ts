/**
 * The storefront's catalog on SQLite (see database.ts): the region's products, read the
 * deliberately slow way so the cache's effect is visible; a price change; and the orders
 * the `confirm-order` task records (taking the units out of the region's stock).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type Database from 'better-sqlite3';
import { databasePath, openDatabase } from './database.js';

export const REGIONS = ['us', 'eu', 'apac'] as const;
export type Region = (typeof REGIONS)[number];

/** True when `value` is one of {@link REGIONS}. */
export const isRegion = (value: unknown): value is Region => (REGIONS as readonly unknown[]).includes(value);

export interface Product {
  sku: string;
  name: string;
  /** In the region's currency, to the cent. */
  price: number;
  currency: string;
  /** Units left in the region. */
  stock: number;
}

/** What `confirm-order` records. */
export interface OrderRecord {
  id: string;
  region: Region;
  /** The signed-in user id, or null for an anonymous order. */
  customer: string | null;
  total: string;
  currency: string;
  lines: { sku: string; quantity: number }[];
}

/** Milliseconds the catalog query takes on purpose (STOREFRONT_QUERY_MS); tests set it lower. */
export const SLOW_QUERY_MS = Number(process.env.STOREFRONT_QUERY_MS ?? 300);

/**
 * The catalog's database: what the routes and the order task read and write.
 *
 * @example
 * const catalog = Catalog.open(':memory:');
 * catalog.setPrice('kettle', 'eu', 33.5);
 * (await catalog.query('eu'))[0]; // { sku: 'kettle', price: 33.5, currency: 'EUR', stock: 40, … }
 */
export class Catalog {
  readonly db: Database.Database;
  readonly #products: Database.Statement<[string], Omit<Product, 'price'> & { cents: number }>;
  readonly #setPrice: Database.Statement<[number, string, string]>;
  readonly #recordOrder: Database.Transaction<(order: OrderRecord, at: string) => boolean>;

  constructor(db: Database.Database) {
    this.db = db;
    this.#products = db.prepare(
      `SELECT p.sku, p.name, r.price_cents AS cents, r.currency, r.stock
         FROM products p JOIN prices r ON r.sku = p.sku
        WHERE r.region = ? ORDER BY p.rowid`,
    );
    this.#setPrice = db.prepare('UPDATE prices SET price_cents = ? WHERE sku = ? AND region = ?');
    const insertOrder = db.prepare(
      `INSERT OR IGNORE INTO orders (id, region, customer, total, currency, confirmed_at)
       VALUES (@id, @region, @customer, @total, @currency, @at)`,
    );
    const insertLine = db.prepare('INSERT INTO order_lines (order_id, sku, quantity) VALUES (?, ?, ?)');
    const takeStock = db.prepare('UPDATE prices SET stock = max(stock - ?, 0) WHERE sku = ? AND region = ?');
    // One transaction: an order is recorded with all its lines and stock changes, or not at all;
    // a retried task finds its order there and changes nothing twice.
    this.#recordOrder = db.transaction((order: OrderRecord, at: string) => {
      const { lines, ...row } = order;
      if (insertOrder.run({ ...row, at }).changes === 0) return false;
      for (const line of lines) {
        insertLine.run(order.id, line.sku, line.quantity);
        takeStock.run(line.quantity, line.sku, order.region);
      }
      return true;
    });
  }

  /**
   * Opens the database at `file` (STOREFRONT_DB, else examples/storefront/data/storefront.db),
   * creating and seeding it when new.
   *
   * @example const catalog = Catalog.open(':memory:');
   */
  static open(file = databasePath()): Catalog {
    return new Catalog(openDatabase(file));
  }

  /** The region's products, straight from SQLite (fast; `query` is the slow way). */
  products(region: Region): Product[] {
    return this.#products.all(region).map(({ cents, ...p }) => ({ ...p, price: cents / 100 }));
  }

  /** The region's catalog, the slow way (what the cache saves): STOREFRONT_QUERY_MS, then SQLite. */
  async query(region: Region): Promise<Product[]> {
    await sleep(SLOW_QUERY_MS);
    return this.products(region);
  }

  /** Sets a product's price in one region; false when there is no such product. */
  setPrice(sku: string, region: Region, price: number): boolean {
    return this.#setPrice.run(Math.round(price * 100), sku, region).changes === 1;
  }

  /** Records a confirmed order and takes its units out of stock, once: false if it was already recorded. */
  recordOrder(order: OrderRecord, at = new Date().toISOString()): boolean {
    return this.#recordOrder.immediate(order, at);
  }

  /** A recorded order with its lines, or undefined. */
  order(
    id: string,
  ): (Omit<OrderRecord, 'lines'> & { confirmedAt: string; lines: OrderRecord['lines'] }) | undefined {
    const row = this.db
      .prepare(
        'SELECT id, region, customer, total, currency, confirmed_at AS confirmedAt FROM orders WHERE id = ?',
      )
      .get(id) as (Omit<OrderRecord, 'lines'> & { confirmedAt: string }) | undefined;
    if (row === undefined) return undefined;
    const lines = this.db
      .prepare('SELECT sku, quantity FROM order_lines WHERE order_id = ? ORDER BY rowid')
      .all(id) as OrderRecord['lines'];
    return { ...row, lines };
  }

  close(): void {
    this.db.close();
  }
}
