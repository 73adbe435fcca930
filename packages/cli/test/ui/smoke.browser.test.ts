/** Every component serves its page at `/`, with its assets, and the page renders without errors. */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUiCluster, type UiCluster } from './fixture.js';

let ui: UiCluster;
beforeAll(async () => {
  ui = await startUiCluster();
});
afterAll(async () => {
  await ui?.stop();
});

describe('the web UI', () => {
  for (const component of ['master', 'marathon', 'chronos', 'batch'] as const) {
    it(`serves the ${component} page at / and renders it`, async () => {
      const res = await fetch(`${ui.url(component)}/`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/html');
      const { page } = ui.browser;
      await page.goto(`${ui.url(component)}/`);
      await page.locator('.brand').waitFor();
      expect(await page.locator('.component').textContent()).toBe(component);
      await ui.browser.screenshot(`smoke-${component}`);
      expect(ui.browser.pageErrors).toEqual([]);
    });
  }

  it('answers 404 for an asset that does not exist', async () => {
    const res = await fetch(`${ui.url('master')}/assets/nope.js`);
    expect(res.status).toBe(404);
  });
});
