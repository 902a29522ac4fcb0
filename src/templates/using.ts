/**
 * `using=` as both `{% cache %}` tags read it: written, it must name a cache. Django's tag
 * raises on an unknown variable there ("'cache' tag got an unknown variable") and on a name
 * that is no cache; only a tag without `using=` falls back to the default cache.
 */
import { describeValue, LarderError } from '../errors.js';

/**
 * `using=`'s value when the tag has one: `undefined` or `null` (a variable that is not set,
 * `none`, `nil`) is a render-time error instead of a silent fallback to the default cache.
 *
 * @example const using = tag.using ? writtenUsing(yield evalTokenValue(tag.using, ctx)) : undefined;
 */
export function writtenUsing(value: unknown): unknown {
  if (value === undefined || value === null) {
    throw new LarderError(
      `Invalid cache name specified for cache tag: using=${describeValue(value)} ` +
        '(a variable that is not set?). Name a configured cache, as in using="pages", or leave using= out for the default.',
    );
  }
  return value;
}
