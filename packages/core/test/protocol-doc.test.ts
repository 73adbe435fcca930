import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderProtocolDoc } from '../src/protocol-doc.js';

describe('docs/protocol.md', () => {
  it('is what the schemas say (run `npm run docs:protocol` after changing a schema)', () => {
    const onDisk = readFileSync(new URL('../../../docs/protocol.md', import.meta.url), 'utf8');
    expect(onDisk).toBe(renderProtocolDoc());
  });

  it('documents every message type', () => {
    const doc = renderProtocolDoc();
    for (const type of ['SUBSCRIBE', 'ACCEPT', 'OFFERS', 'RESCIND', 'UPDATE', 'REGISTER', 'REREGISTER', 'STATUS_UPDATE', 'RUN_TASKS', 'PING', 'KILL_TASKS', 'LAUNCH_GROUP', 'GET_STATE', 'LEADER_ELECTED', 'TASK_UPDATED']) {
      expect(doc).toContain(`\`${type}\``);
    }
  });
});
