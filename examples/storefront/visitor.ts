/**
 * What the storefront keeps in a visitor's session, and the one place pages read it.
 *
 * The session holds the display name (set at login), the cart as a list of product ids,
 * and one `qty:<sku>` counter per product, bumped with `session.incr` — one atomic
 * HINCRBY on Redis, so two tabs adding the same product at once both count.
 */
import type { Request } from 'express';
import type { Session } from 'larder/session';

/** The storefront's session data (the type parameter of `Session`). */
export type Shop = {
  /** The name as typed at login; the user id is its lower-case form. */
  name: string;
  /** Product ids, in the order first added. */
  cart: string[];
  /** A message shown once on the next page (Django's messages framework, in miniature). */
  flash: string;
} & Record<`qty:${string}`, number>;

/**
 * The request's session, typed with the storefront's data. In an app, `req.session as
 * Session<Shop>` does; here the type checker also sees larder's sources, whose
 * `req.session` is another declaration of the same class, hence the `unknown` step.
 */
export function shopSession(req: Request): Session<Shop> {
  return req.session as unknown as Session<Shop>;
}

/** Who is asking, as the header and sidebar show it. */
export interface Visitor {
  /** The logged-in user id, or '' for an anonymous visitor. */
  user: string;
  name: string;
  /** Items in the cart (quantities summed). */
  cartCount: number;
  /** True when the session holds anything: the page is this visitor's alone. */
  personal: boolean;
}

/** Reads the visitor from the session: one store read at most, none without a session cookie. */
export async function visitorOf(req: Request): Promise<Visitor> {
  const session = shopSession(req);
  const user = (await session.userId()) ?? '';
  const name = await session.get('name', user);
  const cart = await session.get('cart', []);
  let cartCount = 0;
  for (const sku of cart) cartCount += await session.get(`qty:${sku}`, 0);
  return { user, name, cartCount, personal: !(await session.isEmpty()) };
}
