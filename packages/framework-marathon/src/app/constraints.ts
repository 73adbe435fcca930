/**
 * Marathon placement constraints, `[field, operator, value?]`: their checks as an app definition
 * receives them, and their translation into the SDK's placement constraints, which
 * `placeTasks` evaluates.
 *
 * A field is `hostname` (or `@hostname`), `@region` or `@zone` (the agent's fault domain),
 * `@rack` (a Stoa extension: the fault domain's rack), or the name of an agent attribute.
 *
 * | operator   | value                          |
 * |------------|--------------------------------|
 * | `UNIQUE`   | none                           |
 * | `CLUSTER`  | optional                       |
 * | `GROUP_BY` | optional positive whole number |
 * | `LIKE`     | a regular expression           |
 * | `UNLIKE`   | a regular expression           |
 * | `MAX_PER`  | a positive whole number        |
 * | `IS`       | required                       |
 *
 * Chronos' `EQUALS` is not a Marathon operator and is refused here (the SDK takes it).
 *
 * @example
 * ```ts
 * const problems = constraintProblems(['rack', 'MAX_PER', 'two']); // ['MAX_PER needs a positive whole number']
 * const placement = toPlacementConstraints([['@hostname', 'UNIQUE'], ['@zone', 'GROUP_BY', '3']]);
 * // [['hostname', 'UNIQUE'], ['@zone', 'GROUP_BY', '3']]
 * ```
 * @module
 */

import { type Constraint, validateConstraints } from '@stoa/sdk';

/** Marathon's constraint operators. */
export const MARATHON_CONSTRAINT_OPERATORS = ['UNIQUE', 'CLUSTER', 'GROUP_BY', 'LIKE', 'UNLIKE', 'MAX_PER', 'IS'] as const;

/** A Marathon constraint operator. */
export type MarathonConstraintOperator = (typeof MARATHON_CONSTRAINT_OPERATORS)[number];

/** A Marathon constraint as it appears in an app definition: `['hostname', 'UNIQUE']`, `['rack', 'MAX_PER', '2']`. */
export type MarathonConstraint = [field: string, operator: MarathonConstraintOperator] | [field: string, operator: MarathonConstraintOperator, value: string];

/** What a constraint field reads on an agent. */
export type ConstraintFieldKind = 'hostname' | 'region' | 'zone' | 'rack' | 'attribute';

const OPERATORS: ReadonlySet<string> = new Set(MARATHON_CONSTRAINT_OPERATORS);
const FIELD_KINDS: Readonly<Record<string, ConstraintFieldKind>> = {
  hostname: 'hostname',
  '@hostname': 'hostname',
  '@region': 'region',
  '@zone': 'zone',
  '@rack': 'rack',
};
const COUNT = /^[1-9]\d*$/;

/**
 * What a constraint field reads, or `undefined` for an `@` field that is not one of
 * `@hostname`, `@region`, `@zone`, `@rack`.
 */
export function constraintFieldKind(field: string): ConstraintFieldKind | undefined {
  const known = Object.hasOwn(FIELD_KINDS, field) ? FIELD_KINDS[field] : undefined;
  if (known !== undefined) return known;
  return field.startsWith('@') ? undefined : 'attribute';
}

/**
 * Why a constraint as received in JSON is invalid: one message per problem, empty when it is
 * valid. Values must be strings, as in Marathon (`['rack', 'MAX_PER', '2']`, not `2`).
 */
export function constraintProblems(raw: unknown): string[] {
  if (!Array.isArray(raw) || raw.length < 2 || raw.length > 3) {
    return ['expected [field, operator] or [field, operator, value]'];
  }
  const [field, operator, value] = raw as unknown[];
  const problems: string[] = [];
  if (typeof field !== 'string' || field === '') problems.push('the field must be a non-empty string');
  else if (constraintFieldKind(field) === undefined) {
    problems.push(`unknown field "${field}": expected hostname, @hostname, @region, @zone, @rack or an attribute name`);
  }
  if (typeof operator !== 'string' || !OPERATORS.has(operator)) {
    problems.push(`unknown operator ${JSON.stringify(operator)}: expected one of ${MARATHON_CONSTRAINT_OPERATORS.join(', ')}`);
    return problems;
  }
  if (value !== undefined && typeof value !== 'string') {
    problems.push('the value must be a string');
    return problems;
  }
  switch (operator as MarathonConstraintOperator) {
    case 'UNIQUE':
      if (value !== undefined) problems.push('UNIQUE takes no value');
      break;
    case 'CLUSTER':
      break;
    case 'IS':
      if (value === undefined || value === '') problems.push('IS needs a value');
      break;
    case 'LIKE':
    case 'UNLIKE':
      if (value === undefined) problems.push(`${operator} needs a regular expression`);
      else {
        try {
          new RegExp(`^(?:${value})$`);
        } catch (e) {
          problems.push(`${operator} value is not a valid regular expression: ${(e as Error).message}`);
        }
      }
      break;
    case 'MAX_PER':
      if (value === undefined || !isCount(value)) problems.push('MAX_PER needs a positive whole number');
      break;
    case 'GROUP_BY':
      if (value !== undefined && !isCount(value)) problems.push('GROUP_BY takes a positive whole number (of values to spread over)');
      break;
  }
  return problems;
}

function isCount(value: string): boolean {
  return COUNT.test(value) && Number.isSafeInteger(Number(value));
}

/**
 * The SDK's placement constraints for Marathon constraints (already checked by
 * {@link constraintProblems}): `@hostname` becomes `hostname`; other fields, operators and
 * values carry over unchanged, since the SDK evaluates Marathon's operators with Marathon's
 * semantics. A `CLUSTER` with an empty value is the same as one without.
 */
export function toPlacementConstraints(constraints: readonly MarathonConstraint[]): Constraint[] {
  const mapped = constraints.map(([field, operator, value]): Constraint => {
    const sdkField = field === '@hostname' ? 'hostname' : field;
    if (value === undefined || (operator === 'CLUSTER' && value === '')) return [sdkField, operator];
    return [sdkField, operator, value];
  });
  // The SDK's own check: a constraint that passed ours but not the SDK's is a bug worth hearing of.
  return validateConstraints(mapped);
}
