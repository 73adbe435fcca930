/**
 * Placement constraints in Marathon's form: `[field, operator, value?]`, as Marathon apps and
 * Chronos jobs write them in JSON. A field is `hostname`, one of the fault-domain fields
 * `@region`, `@zone`, `@rack` (from the offer's `domain`), or the name of an agent attribute.
 *
 * | operator   | value              | holds when                                                               |
 * |------------|--------------------|--------------------------------------------------------------------------|
 * | `UNIQUE`   | —                  | no other task of the group has the same field value                      |
 * | `CLUSTER`  | optional           | the field equals the value; without one, the value of the group's first task |
 * | `GROUP_BY` | optional count     | the group is spread evenly over the field's values (at least `count` of them) |
 * | `LIKE`     | regex              | the field is present and the regex matches all of it                     |
 * | `UNLIKE`   | regex              | the field is absent, or the regex does not match all of it               |
 * | `MAX_PER`  | count              | fewer than `count` tasks of the group have the same field value          |
 * | `IS`       | value              | the field equals the value (`EQUALS` is Chronos' name for it)            |
 *
 * An offer without the field fails every operator except `UNLIKE`, as in Marathon.
 *
 * @example
 * ```ts
 * import { validateConstraints } from '@stoa/sdk';
 * const constraints = validateConstraints(body.constraints); // ValidationError { field: 'constraints.1' }
 * placeTasks(offers, [{ taskId: 'web.1', name: 'web', resources: 'cpus:1', constraints }]);
 * ```
 * @module
 */

import { type FaultDomain, ValidationError } from '@stoa/core';

/** Every operator, Marathon's and Chronos' `EQUALS`. */
export const CONSTRAINT_OPERATORS = ['UNIQUE', 'CLUSTER', 'GROUP_BY', 'LIKE', 'UNLIKE', 'MAX_PER', 'IS', 'EQUALS'] as const;

/** A constraint operator. */
export type ConstraintOperator = (typeof CONSTRAINT_OPERATORS)[number];

/** A placement constraint, as in Marathon JSON: `['hostname', 'UNIQUE']`, `['rack', 'MAX_PER', '2']`. */
export type Constraint = readonly [field: string, operator: ConstraintOperator, value?: string];

/** What a constraint field is read from: an offer, or a task already running (on an agent like that). */
export interface ConstraintTarget {
  /** The agent's hostname (field `hostname`). */
  hostname: string;
  /** The agent's attributes (any other field). */
  attributes: Readonly<Record<string, string>>;
  /** The agent's fault domain (fields `@region`, `@zone`, `@rack`). */
  domain?: FaultDomain | undefined;
}

const DOMAIN_FIELDS: Readonly<Record<string, keyof FaultDomain>> = { '@region': 'region', '@zone': 'zone', '@rack': 'rack' };
const OPERATORS: ReadonlySet<string> = new Set(CONSTRAINT_OPERATORS);

/**
 * The value of a constraint field on a target, or `undefined` when the target does not have it.
 * `@hostname` is taken as `hostname`, as Marathon does.
 */
export function constraintFieldValue(target: ConstraintTarget, field: string): string | undefined {
  if (field === 'hostname' || field === '@hostname') return target.hostname;
  const domainField = Object.hasOwn(DOMAIN_FIELDS, field) ? DOMAIN_FIELDS[field] : undefined;
  if (domainField !== undefined) return target.domain?.[domainField];
  return Object.hasOwn(target.attributes, field) ? target.attributes[field] : undefined;
}

/** The text form of a constraint, as placement reasons name it: `hostname:UNIQUE`, `rack:MAX_PER:2`. */
export function formatConstraint(constraint: Constraint): string {
  const [field, operator, value] = constraint;
  return value === undefined ? `${field}:${operator}` : `${field}:${operator}:${value}`;
}

/** A checked constraint, ready to evaluate. Internal to the placement engine. */
export interface CompiledConstraint {
  /** Its position in the list, for messages. */
  readonly index: number;
  readonly field: string;
  /** The operator, with `EQUALS` turned into `IS`. */
  readonly operator: Exclude<ConstraintOperator, 'EQUALS'>;
  readonly value: string | undefined;
  /** `LIKE`/`UNLIKE`: the value anchored at both ends. */
  readonly regex: RegExp | undefined;
  /** `MAX_PER`: the limit; `GROUP_BY`: the number of values to spread over (0 when not given). */
  readonly count: number;
  /** The text form of the constraint as given ({@link formatConstraint}). */
  readonly label: string;
  /** Whether it depends only on the target, not on where the group's other tasks are. */
  readonly isStatic: boolean;
}

/** Where a validation error is reported: extra text and details for the message. */
interface ErrorContext {
  prefix?: string;
  details?: Record<string, unknown>;
}

const COUNT = /^\d+$/;

function compileOne(raw: unknown, index: number, context: ErrorContext): CompiledConstraint {
  const field = `constraints.${index}`;
  const fail = (why: string): ValidationError =>
    new ValidationError(`${context.prefix ?? ''}${field}: ${why}`, { details: { ...context.details, field } });
  if (!Array.isArray(raw) || raw.length < 2 || raw.length > 3) throw fail('expected [field, operator] or [field, operator, value]');
  const [name, operator, rawValue] = raw as unknown[];
  if (typeof name !== 'string' || name === '') throw fail('the field must be a non-empty string');
  if (name.startsWith('@') && name !== '@hostname' && !Object.hasOwn(DOMAIN_FIELDS, name)) {
    throw fail(`unknown field '${name}' (expected hostname, @hostname, @region, @zone, @rack or an attribute name)`);
  }
  if (typeof operator !== 'string' || !OPERATORS.has(operator)) {
    throw fail(`unknown operator ${JSON.stringify(operator)} (expected one of ${CONSTRAINT_OPERATORS.join(', ')})`);
  }
  if (rawValue !== undefined && typeof rawValue !== 'string' && typeof rawValue !== 'number') {
    throw fail('the value must be a string');
  }
  const value = rawValue === undefined ? undefined : String(rawValue);
  const op = (operator === 'EQUALS' ? 'IS' : operator) as CompiledConstraint['operator'];
  const label = formatConstraint([name, operator as ConstraintOperator, value] as Constraint);
  let regex: RegExp | undefined;
  let count = 0;
  switch (op) {
    case 'UNIQUE':
      if (value !== undefined && value !== '') throw fail('UNIQUE takes no value');
      break;
    case 'CLUSTER':
      break;
    case 'IS':
      if (value === undefined) throw fail(`${operator} needs a value`);
      break;
    case 'LIKE':
    case 'UNLIKE':
      if (value === undefined) throw fail(`${operator} needs a regular expression`);
      try {
        regex = new RegExp(`^(?:${value})$`);
      } catch (e) {
        throw fail(`${operator} value is not a valid regular expression: ${(e as Error).message}`);
      }
      break;
    case 'MAX_PER':
      if (value === undefined || !COUNT.test(value.trim()) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
        throw fail('MAX_PER needs a positive whole number');
      }
      count = Number(value);
      break;
    case 'GROUP_BY':
      if (value !== undefined && value !== '') {
        if (!COUNT.test(value.trim()) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
          throw fail('GROUP_BY takes a positive whole number of groups');
        }
        count = Number(value);
      }
      break;
  }
  const isStatic = op === 'IS' || op === 'LIKE' || op === 'UNLIKE' || (op === 'CLUSTER' && value !== undefined && value !== '');
  return { index, field: name, operator: op, value: value === '' && op === 'CLUSTER' ? undefined : value, regex, count, label, isStatic };
}

/**
 * Checks constraints and compiles them. Throws a {@link ValidationError} whose `field` is
 * `constraints.<i>`. Internal to the placement engine.
 */
export function compileConstraints(list: unknown, context: ErrorContext = {}): CompiledConstraint[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) {
    throw new ValidationError(`${context.prefix ?? ''}constraints: expected a list of [field, operator, value?]`, {
      details: { ...context.details, field: 'constraints' },
    });
  }
  return list.map((raw, i) => compileOne(raw, i, context));
}

/**
 * Checks a list of constraints as a framework's API receives it (JSON) and returns it typed,
 * with numeric values turned into strings (`['rack', 'MAX_PER', 2]` → `'2'`). Throws a
 * {@link ValidationError} whose `field` is `constraints.<i>` for the first bad one: an unknown
 * operator or `@` field, a missing value, a regex that does not compile, a count that is not a
 * positive whole number.
 */
export function validateConstraints(list: unknown): Constraint[] {
  compileConstraints(list);
  if (list === undefined) return [];
  return (list as unknown[]).map((raw) => {
    const [field, operator, value] = raw as [string, ConstraintOperator, unknown];
    return value === undefined ? ([field, operator] as const) : ([field, operator, String(value)] as const);
  });
}

/**
 * Whether a constraint that depends only on the target ({@link CompiledConstraint.isStatic})
 * holds for a field value (`undefined` when the target lacks the field).
 */
export function matchesStatic(c: CompiledConstraint, value: string | undefined): boolean {
  switch (c.operator) {
    case 'UNLIKE':
      return value === undefined || !c.regex!.test(value);
    case 'LIKE':
      return value !== undefined && c.regex!.test(value);
    case 'IS':
    case 'CLUSTER':
      return value !== undefined && value === c.value;
    default:
      return value !== undefined;
  }
}
