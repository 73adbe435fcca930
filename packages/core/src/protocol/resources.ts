/**
 * Resources as they travel on the wire: what agents have, what offers carry, what tasks use.
 *
 * The shapes follow Mesos v1 (`Resource`, `Value.Range`, `ReservationInfo`, `DiskInfo`) with
 * camelCase fields. A resource is one of three kinds, and exactly the matching value field is
 * present: `SCALAR` → `scalar`, `RANGES` → `ranges`, `SET` → `set`. Ranges may arrive unsorted
 * and overlapping; the algebra in `resources/` normalizes them.
 *
 * @example
 * ```ts
 * const rs = ResourcesSchema.parse([
 *   { name: 'cpus', type: 'SCALAR', scalar: 2 },
 *   { name: 'ports', type: 'RANGES', ranges: [{ begin: 31000, end: 31999 }] },
 *   { name: 'mem', type: 'SCALAR', scalar: 512, role: 'ops', reservation: { type: 'STATIC' } },
 * ]);
 * ```
 * @module
 */

import { z } from 'zod';

/** The role of unreserved resources: anyone may be offered them. */
export const UNRESERVED_ROLE = '*';

/** The three kinds of resource value. */
export const ResourceTypeSchema = z.enum(['SCALAR', 'RANGES', 'SET']);
/** One of `SCALAR`, `RANGES`, `SET`. */
export type ResourceType = z.infer<typeof ResourceTypeSchema>;

/**
 * The kind each well-known resource must have; any other name is a custom resource of any kind.
 * (A `cpus` given as ranges is always a mistake, so the schema rejects it.)
 */
export const WELL_KNOWN_RESOURCE_TYPES: Readonly<Record<string, ResourceType>> = {
  cpus: 'SCALAR',
  mem: 'SCALAR',
  disk: 'SCALAR',
  gpus: 'SCALAR',
  ports: 'RANGES',
};

/** An inclusive range of non-negative integers, such as ports `31000-31999`. */
export const ValueRangeSchema = z
  .object({
    begin: z.number().int().min(0),
    end: z.number().int().min(0),
  })
  .refine((r) => r.end >= r.begin, { message: 'end must not be below begin', path: ['end'] });
/** An inclusive range of non-negative integers. */
export type ValueRange = z.infer<typeof ValueRangeSchema>;

/**
 * Why a resource is reserved for its role: `STATIC` reservations come from the agent's
 * configuration, `DYNAMIC` ones from a RESERVE operation made by `principal`.
 */
export const ReservationInfoSchema = z.object({
  type: z.enum(['STATIC', 'DYNAMIC']),
  principal: z.string().min(1).optional(),
  labels: z.record(z.string(), z.string()).optional(),
});
/** Why a resource is reserved for its role. */
export type ReservationInfo = z.infer<typeof ReservationInfoSchema>;

/** What a `disk` resource holds: a persistent volume (CREATE/DESTROY) and where it is mounted. */
export const DiskInfoSchema = z.object({
  persistence: z
    .object({
      id: z.string().min(1),
      principal: z.string().min(1).optional(),
    })
    .optional(),
  volume: z
    .object({
      containerPath: z.string().min(1),
      mode: z.enum(['RW', 'RO']),
    })
    .optional(),
});
/** What a `disk` resource holds. */
export type DiskInfo = z.infer<typeof DiskInfoSchema>;

const VALUE_FIELD = { SCALAR: 'scalar', RANGES: 'ranges', SET: 'set' } as const;
const VALUE_FIELDS = ['scalar', 'ranges', 'set'] as const;

/**
 * One resource: a name, a kind with its value, and the role it is reserved for (`'*'`, the
 * default, for unreserved).
 */
export const ResourceSchema = z
  .object({
    name: z.string().min(1),
    type: ResourceTypeSchema,
    scalar: z.number().min(0).optional(),
    ranges: z.array(ValueRangeSchema).optional(),
    set: z.array(z.string()).optional(),
    role: z.string().min(1).optional(),
    reservation: ReservationInfoSchema.optional(),
    disk: DiskInfoSchema.optional(),
  })
  .superRefine((r, ctx) => {
    const expected = VALUE_FIELD[r.type];
    if (r[expected] === undefined) {
      ctx.addIssue({ code: 'custom', path: [expected], message: `a ${r.type} resource needs '${expected}'` });
    }
    for (const field of VALUE_FIELDS) {
      if (field !== expected && r[field] !== undefined) {
        ctx.addIssue({ code: 'custom', path: [field], message: `'${field}' does not belong to a ${r.type} resource` });
      }
    }
    const known = Object.hasOwn(WELL_KNOWN_RESOURCE_TYPES, r.name) ? WELL_KNOWN_RESOURCE_TYPES[r.name] : undefined;
    if (known !== undefined && known !== r.type) {
      ctx.addIssue({ code: 'custom', path: ['type'], message: `'${r.name}' must be ${known}` });
    }
    if ((r.role ?? UNRESERVED_ROLE) === UNRESERVED_ROLE && r.reservation !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['reservation'], message: "an unreserved ('*') resource has no reservation" });
    }
    if (r.disk !== undefined && r.name !== 'disk') {
      ctx.addIssue({ code: 'custom', path: ['disk'], message: "only a 'disk' resource has disk info" });
    }
  });
/** One resource. */
export type Resource = z.infer<typeof ResourceSchema>;

/** A list of resources, in any order and not necessarily normalized. */
export const ResourcesSchema = z.array(ResourceSchema);

/** Agent attributes used for placement constraints, such as `{ rack: 'r1', zone: 'a' }`. */
export const AttributesSchema = z.record(z.string(), z.string());
/** Agent attributes: names to string values. */
export type Attributes = z.infer<typeof AttributesSchema>;

/** Where an agent sits, for spreading and for preferring the local region. */
export const FaultDomainSchema = z.object({
  region: z.string().min(1).optional(),
  zone: z.string().min(1).optional(),
  rack: z.string().min(1).optional(),
});
/** Where an agent sits. */
export type FaultDomain = z.infer<typeof FaultDomainSchema>;
