/**
 * Chronos' page: the jobs with their last runs, a job's definition and run history, the
 * dependency graph, and a form for new jobs. Views are addressed by the URL hash (`#jobs`,
 * `#graph`, `#new`, `#job/<name>`), so each can be linked; data is polled and reloaded at once
 * when the scheduler's event stream reports a change.
 */

import { Layout } from '../../lib/components';
import { useHash } from '../../lib/hooks';
import { useLiveTick } from '../../lib/live';
import { mountPage } from '../../lib/mount';
import { API, EVENT_TYPES } from './chronos-api';
import { DependencyGraph } from './dependency-graph';
import { JobDetail } from './job-detail';
import { JobForm } from './job-form';
import { JobsView } from './jobs-view';
import './chronos.css';

const TABS = [
  { id: 'jobs', label: 'Jobs' },
  { id: 'graph', label: 'Dependency graph' },
  { id: 'new', label: 'New job' },
] as const;

function App() {
  const [hash, setHash] = useHash();
  const live = useLiveTick(`${API}/events`, EVENT_TYPES);
  const open = (name: string) => setHash(`job/${encodeURIComponent(name)}`);
  const detail = hash.startsWith('job/') ? hash.slice('job/'.length) : undefined;
  const tab = detail !== undefined ? 'jobs' : TABS.some((t) => t.id === hash) ? hash : 'jobs';

  return (
    <Layout
      component="chronos"
      tabs={TABS}
      tab={tab}
      onTab={setHash}
      status={
        <span data-testid="live-status" title="the scheduler's event stream">
          {live.connected ? '● live' : '○ reconnecting…'}
        </span>
      }
    >
      {detail !== undefined ? (
        <JobDetail key={detail} name={detail} tick={live.tick} onBack={() => setHash('jobs')} />
      ) : tab === 'graph' ? (
        <DependencyGraph tick={live.tick} />
      ) : tab === 'new' ? (
        <JobForm onCreated={open} />
      ) : (
        <JobsView tick={live.tick} onOpen={open} />
      )}
    </Layout>
  );
}

mountPage(App);
