/**
 * An immutable, normalized list of resources with methods, as sugar for framework authors. The
 * plain functions of the algebra remain the primary API; this class only wraps them.
 *
 * @example
 * ```ts
 * const offer = Resources.of(offered.resources);
 * const need = Resources.parse('cpus:0.5;mem:128');
 * if (offer.contains(need)) launch(need.toArray());
 * offer.subtract(need).scalar('cpus');
 * ```
 * @module
 */

import type { Resource } from '../protocol/resources.js';
import { add, contains, equals, isEmpty, normalize, scalar, subtract } from './algebra.js';
import { formatResources, parseResources } from './text.js';

function freeze(rs: Resource[]): readonly Resource[] {
  for (const r of rs) {
    if (r.ranges !== undefined) for (const x of r.ranges) Object.freeze(x);
    Object.freeze(r.ranges);
    Object.freeze(r.set);
    if (r.reservation !== undefined) Object.freeze(r.reservation.labels);
    Object.freeze(r.reservation);
    if (r.disk !== undefined) {
      Object.freeze(r.disk.persistence);
      Object.freeze(r.disk.volume);
    }
    Object.freeze(r.disk);
    Object.freeze(r);
  }
  return Object.freeze(rs);
}

function itemsOf(other: Resources | readonly Resource[]): readonly Resource[] {
  return other instanceof Resources ? other.toArray() : other;
}

/** An immutable, normalized list of resources. */
export class Resources {
  /** No resources. */
  static readonly EMPTY: Resources = new Resources([]);

  readonly #items: readonly Resource[];

  /** `items` must be fresh and normalized: the constructor freezes them. */
  private constructor(items: Resource[]) {
    this.#items = freeze(items);
  }

  /** Wraps resources in any form (they are copied and normalized, not frozen in place). */
  static of(rs: Resources | readonly Resource[]): Resources {
    return rs instanceof Resources ? rs : new Resources(normalize(rs));
  }

  /** Reads the text form; see {@link parseResources}. */
  static parse(text: string, defaultRole?: string): Resources {
    return new Resources(parseResources(text, defaultRole));
  }

  /** The sum of these and `other`. */
  add(other: Resources | readonly Resource[]): Resources {
    return new Resources(add(this.#items, itemsOf(other)));
  }

  /** These without `other`; throws an `InvalidOperationError` unless they contain it. */
  subtract(other: Resources | readonly Resource[]): Resources {
    return new Resources(subtract(this.#items, itemsOf(other)));
  }

  /** Whether these hold at least everything in `other`. */
  contains(other: Resources | readonly Resource[]): boolean {
    return contains(this.#items, itemsOf(other));
  }

  /** Whether these hold the same resources as `other`. */
  equals(other: Resources | readonly Resource[]): boolean {
    return equals(this.#items, itemsOf(other));
  }

  /** Whether there are no resources at all. */
  isEmpty(): boolean {
    return isEmpty(this.#items);
  }

  /** The total of the scalar resource `name` over all roles. */
  scalar(name: string): number {
    return scalar(this.#items, name);
  }

  /** The normalized resources (frozen). */
  toArray(): readonly Resource[] {
    return this.#items;
  }

  /** The wire form, so `JSON.stringify` writes a plain array. */
  toJSON(): readonly Resource[] {
    return this.#items;
  }

  /** The text form; see {@link formatResources}. */
  toString(): string {
    return formatResources(this.#items);
  }
}
