import { Layout } from '../../lib/components';
import { mountPage } from '../../lib/mount';

function App() {
  return (
    <Layout component="batch">
      <p>Loading…</p>
    </Layout>
  );
}

mountPage(App);
