/**
 * Renders the protocol reference (`docs/protocol.md`) from the zod schemas themselves, so the
 * reference cannot drift from the wire: a test compares the file with a fresh rendering.
 * Exported from `@stoa/core/internal`; `npm run docs:protocol` writes the file.
 *
 * @module
 */

import type { z } from 'zod';
import * as agent from './protocol/agent.js';
import * as common from './protocol/common.js';
import * as events from './protocol/events.js';
import * as executor from './protocol/executor.js';
import * as operator from './protocol/operator.js';
import * as resources from './protocol/resources.js';
import * as scheduler from './protocol/scheduler.js';
import * as task from './protocol/task.js';

type Any = z.ZodType;
interface Def {
  type: string;
  [key: string]: unknown;
}
const def = (s: Any): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

/** Named shared types: printed by name where they are used, described once in their own section. */
const named = new Map<Any, string>([
  [resources.ResourceSchema, 'Resource'],
  [resources.ValueRangeSchema, 'ValueRange'],
  [resources.ReservationInfoSchema, 'ReservationInfo'],
  [resources.DiskInfoSchema, 'DiskInfo'],
  [resources.AttributesSchema, 'Attributes'],
  [resources.FaultDomainSchema, 'FaultDomain'],
  [task.TaskInfoSchema, 'TaskInfo'],
  [task.TaskStatusSchema, 'TaskStatus'],
  [task.CommandInfoSchema, 'CommandInfo'],
  [task.CommandUriSchema, 'CommandUri'],
  [task.ExecutorInfoSchema, 'ExecutorInfo'],
  [task.HealthCheckSchema, 'HealthCheck'],
  [task.KillPolicySchema, 'KillPolicy'],
  [task.TaskStateSchema, 'TaskState'],
  [task.TaskStatusReasonSchema, 'TaskStatusReason'],
  [scheduler.FrameworkInfoSchema, 'FrameworkInfo'],
  [scheduler.OfferSchema, 'Offer'],
  [scheduler.InverseOfferSchema, 'InverseOffer'],
  [scheduler.FiltersSchema, 'Filters'],
  [scheduler.OperationSchema, 'Operation'],
  [agent.AgentInfoSchema, 'AgentInfo'],
  [agent.IsolationSchema, 'Isolation'],
  [agent.StatusUpdateSchema, 'StatusUpdate'],
  [agent.AgentTaskSchema, 'AgentTask'],
  [agent.LaunchSchema, 'Launch'],
  [operator.QuotaSchema, 'Quota'],
  [operator.WeightSchema, 'Weight'],
  [operator.AgentSummarySchema, 'AgentSummary'],
  [operator.FrameworkSummarySchema, 'FrameworkSummary'],
  [operator.TaskSummarySchema, 'TaskSummary'],
  [operator.MasterInfoSchema, 'MasterInfo'],
  [events.ClusterEventSchema, 'ClusterEvent'],
  [common.WireErrorSchema, 'WireError'],
]);

/** A short type expression for a schema. */
function typeOf(s: Any): string {
  const name = named.get(s);
  if (name) return name;
  const d = def(s);
  switch (d.type) {
    case 'optional':
    case 'nullable':
    case 'default':
    case 'readonly':
      return typeOf(d.innerType as Any);
    case 'pipe':
      return typeOf(d.in as Any);
    case 'string':
      return 'string';
    case 'number':
      return 'number';
    case 'int':
      return 'int';
    case 'boolean':
      return 'boolean';
    case 'unknown':
    case 'any':
      return 'any';
    case 'custom':
      return 'bytes';
    case 'literal':
      return (d.values as unknown[]).map((v) => JSON.stringify(v)).join(' \\| ');
    case 'enum':
      return Object.values(d.entries as Record<string, string>).map((v) => `\`${v}\``).join(' \\| ');
    case 'array':
      return `${typeOf(d.element as Any)}[]`;
    case 'record':
      return `map<${typeOf(d.keyType as Any)}, ${typeOf(d.valueType as Any)}>`;
    case 'object':
      return `{ ${Object.entries(d.shape as Record<string, Any>)
        .map(([k, v]) => `${k}${isOptional(v) ? '?' : ''}: ${typeOf(v)}`)
        .join(', ')} }`;
    case 'union':
      return (d.options as Any[]).map(typeOf).join(' \\| ');
    default:
      return d.type;
  }
}

function isOptional(s: Any): boolean {
  const t = def(s).type;
  return t === 'optional' || t === 'default';
}

function intCheck(s: Any): boolean {
  const d = def(s);
  if (d.type === 'optional') return intCheck(d.innerType as Any);
  const checks = (d.checks ?? []) as { _zod: { def: { format?: string } } }[];
  return d.type === 'number' && checks.some((c) => c._zod.def.format === 'safeint');
}

function fieldsTable(shape: Record<string, Any>, skip: string[] = []): string {
  const rows = Object.entries(shape)
    .filter(([k]) => !skip.includes(k))
    .map(([k, v]) => `| \`${k}\` | ${intCheck(v) ? 'int' : typeOf(v)} | ${isOptional(v) ? '' : 'yes'} |`);
  if (rows.length === 0) return '_no fields besides the envelope_\n';
  return ['| field | type | required |', '| --- | --- | --- |', ...rows, ''].join('\n');
}

function union(title: string, schema: Any, envelope: string[]): string {
  const options = def(schema).options as Any[];
  const out = [`### ${title}`, ''];
  for (const option of options) {
    const shape = def(option).shape as Record<string, Any>;
    const typeLiteral = def(shape.type as Any).values as string[];
    out.push(`#### \`${typeLiteral[0]}\``, '', fieldsTable(shape, ['type', ...envelope]));
  }
  return out.join('\n');
}

function object(title: string, schema: Any, envelope: string[] = []): string {
  const d = def(schema);
  if (d.type === 'object') return [`### ${title}`, '', fieldsTable(d.shape as Record<string, Any>, envelope)].join('\n');
  if (d.type === 'union') return union(title, schema, envelope);
  return [`### ${title}`, '', `\`${typeOf(schema)}\``, ''].join('\n');
}

/** The whole reference as Markdown. */
export function renderProtocolDoc(): string {
  const parts: string[] = [
    '# The Stoa protocol',
    '',
    '<!-- Generated from the zod schemas in packages/core/src/protocol by `npm run docs:protocol`. Do not edit by hand: a test fails when this file and the schemas disagree. -->',
    '',
    'Every message is `msgpack(value)` of an object that its zod schema validates; every message carries `v: 1`.',
    'A message that fails to decode or validate is dropped and counted (or answered with a `PROTOCOL_ERROR`), never acted on.',
    'Subjects start with a configurable prefix, `stoa` by default. Calls are NATS request/reply; their reply is',
    '`{ v: 1, ok: true, result }` or `{ v: 1, ok: false, error: WireError }`. Durations and times are in milliseconds (`…Ms`).',
    '',
    '| subject | from → to | kind | messages |',
    '| --- | --- | --- | --- |',
    '| `stoa.master.scheduler.<principal>` | framework → leading master | request/reply | scheduler calls |',
    '| `stoa.framework.<principal>.<frameworkId>` | master → framework | events, `seq` per subscription | scheduler events |',
    '| `stoa.master.agent.<principal>` | agent → leading master | request/reply | agent calls |',
    '| `stoa.agent.<agentId>` | master → agent | commands (PING and READ_FILE are requests) | agent commands |',
    '| `stoa.executor.<agentId>.<executorId>` | agent → executor | events | executor events |',
    '| `stoa.executor.<agentId>.<executorId>.calls` | executor → agent | request/reply | executor calls |',
    '| `stoa.master.operator` | operator → master | request/reply | operator calls |',
    '| `stoa.master.leader` | leading master → all | broadcast | `LEADER_ELECTED` |',
    '| `stoa.events.<kind>` (`task`, `agent`, `framework`) | master → anyone | broadcast, batched per turn | `{ v, events: ClusterEvent[] }` |',
    '',
    '## Scheduler channel',
    '',
    union('Scheduler calls', scheduler.SchedulerCallSchema, ['v']),
    object('SUBSCRIBE reply result', scheduler.SubscribedSchema),
    union('Scheduler events (each with `v` and `seq`)', scheduler.SchedulerEventSchema, ['v', 'seq']),
    '## Agent channel',
    '',
    union('Agent calls', agent.AgentCallSchema, ['v']),
    object('REGISTER / REREGISTER reply result', agent.RegisteredSchema),
    union('Agent commands (each with `v` and `epoch`)', agent.AgentCommandSchema, ['v', 'epoch']),
    '## Executor channel',
    '',
    union('Executor calls', executor.ExecutorCallSchema, ['v']),
    object('Executor SUBSCRIBE reply result', executor.ExecutorSubscribedSchema),
    union('Executor events', executor.ExecutorEventSchema, ['v']),
    '## Operator channel',
    '',
    union('Operator calls', operator.OperatorCallSchema, ['v']),
    '## Broadcasts',
    '',
    object('LEADER_ELECTED', events.LeaderElectedSchema, ['v', 'type']),
    union('Cluster events (each with `v` and `timestampMs`)', events.ClusterEventSchema, ['v', 'timestampMs']),
    '## Shared types',
    '',
  ];
  for (const [schema, name] of named) {
    if (name === 'ClusterEvent' || name === 'Operation') continue;
    parts.push(object(name, schema));
  }
  parts.push(union('Operation', scheduler.OperationSchema, []));
  return `${parts.join('\n').replace(/\n{3,}/g, '\n\n').trim()}\n`;
}
