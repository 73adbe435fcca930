/**
 * Marathon's page: apps, an app's tasks and versions, the create/edit form built from the API's
 * schema, deployments and the launch queue. The view is in the address (`#apps`, `#app/shop/web`,
 * `#new`, `#edit/shop/web`, `#deployments`, `#queue`) so every view can be linked and reloaded.
 * Data is polled, and reloaded at once when Marathon's event stream reports a change.
 */

import type { JSX } from 'preact';
import { Layout } from '../../lib/components';
import { useHash } from '../../lib/hooks';
import { useLiveTick } from '../../lib/live';
import { mountPage } from '../../lib/mount';
import { EVENT_TYPES } from './marathon-api';
import { AppDetail } from './app-detail';
import { AppForm } from './app-form';
import { AppsView } from './apps-view';
import { DeploymentsView } from './deployments-view';
import { QueueView } from './queue-view';
import './marathon.css';

const TABS = [
  { id: 'apps', label: 'Applications' },
  { id: 'deployments', label: 'Deployments' },
  { id: 'queue', label: 'Launch queue' },
] as const;

/** A view and its argument, read from the hash. */
type Route = { view: 'apps' | 'deployments' | 'queue' | 'new' } | { view: 'app' | 'edit'; appId: string };

function routeOf(hash: string): Route {
  for (const view of ['app', 'edit'] as const) {
    if (hash.startsWith(`${view}/`) && hash.length > view.length + 1) return { view, appId: hash.slice(view.length) };
  }
  if (hash === 'deployments' || hash === 'queue' || hash === 'new') return { view: hash };
  return { view: 'apps' };
}

function App(): JSX.Element {
  const [hash, setHash] = useHash();
  const live = useLiveTick('/v2/events', EVENT_TYPES);
  const route = routeOf(hash);
  const tab = route.view === 'deployments' || route.view === 'queue' ? route.view : 'apps';
  let body: JSX.Element;
  switch (route.view) {
    case 'app':
      body = <AppDetail key={route.appId} appId={route.appId} tick={live.tick} navigate={setHash} />;
      break;
    case 'edit':
      body = <AppForm key={`edit${route.appId}`} appId={route.appId} navigate={setHash} />;
      break;
    case 'new':
      body = <AppForm key="new" navigate={setHash} />;
      break;
    case 'deployments':
      body = <DeploymentsView tick={live.tick} />;
      break;
    case 'queue':
      body = <QueueView tick={live.tick} />;
      break;
    default:
      body = <AppsView tick={live.tick} navigate={setHash} />;
  }
  return (
    <Layout
      component="marathon"
      tabs={TABS}
      tab={tab}
      onTab={setHash}
      status={
        <span data-testid="live" class={live.connected ? 'mf-live on' : 'mf-live'} title={live.connected ? 'Updates arrive as they happen (/v2/events)' : 'The event stream is not connected: polling every 2 s'}>
          {live.connected ? '● live' : '○ polling'}
        </span>
      }
    >
      {body}
    </Layout>
  );
}

mountPage(App);
