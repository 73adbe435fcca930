/** The agents view: the cluster's capacity at a glance, each agent with its bars, and one agent's details. */

import type { JSX } from 'preact';
import { Badge, type Column, Section, Table, when } from '../../lib/components';
import { type AgentSummary, type ClusterState, amount, duration, MAIN_RESOURCES, type Resource, resourceNames, showResources } from './model';
import { formatRoute, type Route } from './route';
import { AgentResourceBar, Chips, KeyValues, ResourceBar, ShortId, ViewLink } from './widgets';

const STATE_ORDER = ['ACTIVE', 'DRAINING', 'DEACTIVATED', 'DRAINED', 'UNREACHABLE', 'GONE'];

/** The agents, busiest states first. */
function sorted(agents: readonly AgentSummary[]): AgentSummary[] {
  return [...agents].sort((a, b) => STATE_ORDER.indexOf(a.state) - STATE_ORDER.indexOf(b.state) || a.hostname.localeCompare(b.hostname, 'en', { numeric: true }));
}

/** The agents view. */
export function AgentsView(props: { state: ClusterState; route: Route; go: (r: Route) => void }): JSX.Element {
  const { agents } = props.state;
  const selected = props.route.params.agent ? agents.find((a) => a.id === props.route.params.agent) : undefined;
  const live = agents.filter((a) => a.state !== 'GONE');
  const all = (pick: (a: AgentSummary) => Resource[]) => live.flatMap(pick);
  // gpus and custom scalars get a column only when some agent has them.
  const shown = resourceNames(...live.map((a) => a.resources)).filter(
    (n) => (MAIN_RESOURCES as readonly string[]).includes(n) || live.some((a) => a.resources.some((r) => r.name === n && r.type === 'SCALAR')),
  );
  const byState = new Map<string, number>();
  for (const a of agents) byState.set(a.state, (byState.get(a.state) ?? 0) + 1);

  const columns: Column<AgentSummary>[] = [
    {
      label: 'Agent',
      cell: (a) => (
        <div class="stack">
          <span class="strong" data-testid="agent-hostname">
            {a.hostname}
          </span>
          <ShortId id={a.id} length={14} />
        </div>
      ),
    },
    { label: 'State', cell: (a) => <Badge state={a.state.toLowerCase()} title={a.state} /> },
    ...shown.map(
      (name): Column<AgentSummary> => ({
        label: name,
        cell: (a) => <AgentResourceBar name={name} total={a.resources} used={a.used} offered={a.offered} />,
      }),
    ),
    {
      label: 'Ports',
      numeric: true,
      cell: (a) => {
        const total = amount(a.resources, 'ports');
        return total ? (
          <span data-testid="agent-ports" title="ports in use / ports the agent has">
            {amount(a.used, 'ports')} / {total.toLocaleString('en-US')}
          </span>
        ) : (
          <span class="muted">–</span>
        );
      },
    },
    { label: 'Attributes', cell: (a) => <Chips values={a.attributes} testId="agent-attributes" /> },
    {
      label: 'Tasks',
      numeric: true,
      cell: (a) => (
        <ViewLink href={`#${formatRoute({ tab: 'tasks', params: { agent: a.id } })}`} testId="agent-tasks">
          {a.taskCount}
        </ViewLink>
      ),
    },
  ];

  return (
    <div data-testid="view-agents">
      <Section title="Cluster capacity" testId="cluster-capacity">
        <div class="capacity">
          {resourceNames(...live.map((a) => a.resources))
            .filter((n) => live.some((a) => a.resources.some((r) => r.name === n && r.type === 'SCALAR')))
            .map((name) => (
              <div key={name} class="capacity-item">
                <div class="capacity-label">{name}</div>
                <ResourceBar name={name} used={amount(all((a) => a.used), name)} total={amount(all((a) => a.resources), name)} offered={amount(all((a) => a.offered), name)} />
              </div>
            ))}
          <div class="capacity-item">
            <div class="capacity-label">agents</div>
            <div class="state-counts">
              {[...byState.entries()]
                .sort((a, b) => STATE_ORDER.indexOf(a[0]) - STATE_ORDER.indexOf(b[0]))
                .map(([state, n]) => (
                  <span key={state} class="state-count">
                    <Badge state={state.toLowerCase()} /> {n}
                  </span>
                ))}
              {agents.length === 0 ? <span class="muted">none registered</span> : null}
            </div>
          </div>
        </div>
      </Section>
      {selected ? <AgentDetail agent={selected} onClose={() => props.go({ tab: 'agents', params: {} })} /> : null}
      <Section title={`Agents (${agents.length})`} testId="agents">
        <Table
          testId="agents-table"
          rows={sorted(agents)}
          columns={columns}
          rowKey={(a) => a.id}
          empty="No agent has registered yet. Start one with `stoa agent --master <nats url>`, or run `stoa dev`."
          onRowClick={(a) => props.go({ tab: 'agents', params: a.id === selected?.id ? {} : { agent: a.id } })}
        />
      </Section>
    </div>
  );
}

/** One agent in full: identity, isolation, resources by role, what is offered. */
function AgentDetail(props: { agent: AgentSummary; onClose: () => void }): JSX.Element {
  const a = props.agent;
  const roles = new Map<string, Resource[]>();
  for (const r of a.resources) roles.set(r.role ?? '*', [...(roles.get(r.role ?? '*') ?? []), r]);
  const iso = a.info?.isolation;
  return (
    <Section
      title={`Agent ${a.hostname}`}
      testId="agent-detail"
      actions={
        <button type="button" onClick={props.onClose}>
          Close
        </button>
      }
    >
      <div class="row">
        <KeyValues
          items={[
            ['ID', <span class="mono">{a.id}</span>],
            ['State', <Badge state={a.state.toLowerCase()} title={a.state} />],
            ['Registered', `${when(a.registeredMs)} (${duration(Date.now() - a.registeredMs)} ago)`],
            a.info?.version !== undefined && ['Version', a.info.version],
            a.info?.containerizers !== undefined && ['Containerizers', a.info.containerizers.join(', ')],
            iso !== undefined && ['Isolation', <span title={iso.note}>{`${iso.kind}${iso.memory ? ', memory limits' : ''}${iso.cpu ? ', cpu limits' : ''}`}</span>],
            a.domain !== undefined && ['Fault domain', [a.domain.region, a.domain.zone, a.domain.rack].filter(Boolean).join(' / ')],
          ]}
        />
        <KeyValues
          items={[
            ...[...roles.entries()].map(([role, rs]) => [role === '*' ? 'Unreserved' : `Reserved for ${role}`, showResources(rs)] as const),
            ['In use', a.used.length ? showResources(a.used) : 'nothing'],
            ['Offered', a.offered.length ? showResources(a.offered) : 'nothing'],
            ['Tasks', <a href={`#${formatRoute({ tab: 'tasks', params: { agent: a.id } })}`}>{a.taskCount} live</a>],
          ]}
        />
      </div>
    </Section>
  );
}
