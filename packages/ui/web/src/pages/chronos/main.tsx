import { Layout } from '../../lib/components';
import { mountPage } from '../../lib/mount';

function App() {
  return (
    <Layout component="chronos">
      <p>Loading…</p>
    </Layout>
  );
}

mountPage(App);
