/**
 * The batch framework's page: jobs with their progress per stage, a job's stages and tasks, a
 * task's output, and a form to submit a spec. Views are addressed by the URL hash (`#jobs`,
 * `#submit`, `#job/<id>`, `#job/<id>/task/<taskId>`); data is polled and reloaded at once when
 * the framework's event stream reports progress.
 */

import { Layout } from '../../lib/components';
import { useHash } from '../../lib/hooks';
import { useLiveTick } from '../../lib/live';
import { mountPage } from '../../lib/mount';
import { EVENT_TYPES } from './batch-api';
import { JobDetail } from './job-detail';
import { JobsView } from './jobs-view';
import { SubmitForm } from './submit-form';
import './batch.css';

const TABS = [
  { id: 'jobs', label: 'Jobs' },
  { id: 'submit', label: 'Submit job' },
] as const;

/** `job/<id>[/task/<taskId>]` → its parts. */
function routeOf(hash: string): { jobId: string; taskId?: string } | undefined {
  const m = /^job\/([^/]+)(?:\/task\/(.+))?$/.exec(hash);
  if (!m) return undefined;
  return m[2] ? { jobId: m[1]!, taskId: m[2] } : { jobId: m[1]! };
}

function App() {
  const [hash, setHash] = useHash();
  const live = useLiveTick('/v1/events', EVENT_TYPES);
  const route = routeOf(hash);
  const open = (jobId: string) => setHash(`job/${encodeURIComponent(jobId)}`);
  const tab = route ? 'jobs' : TABS.some((t) => t.id === hash) ? hash : 'jobs';

  return (
    <Layout
      component="batch"
      tabs={TABS}
      tab={tab}
      onTab={setHash}
      status={
        <span data-testid="live-status" title="the batch framework's event stream">
          {live.connected ? '● live' : '○ reconnecting…'}
        </span>
      }
    >
      {route ? (
        <JobDetail
          key={route.jobId}
          jobId={route.jobId}
          taskId={route.taskId}
          tick={live.tick}
          onTask={(taskId) => setHash(`job/${encodeURIComponent(route.jobId)}${taskId ? `/task/${encodeURIComponent(taskId)}` : ''}`)}
        />
      ) : tab === 'submit' ? (
        <SubmitForm onSubmitted={open} />
      ) : (
        <JobsView tick={live.tick} onOpen={open} />
      )}
    </Layout>
  );
}

mountPage(App);
