import { describe, expect, it } from 'vitest';
import { APP_DEFAULTS, AppDefinitionSchema, HEALTH_CHECK_DEFAULTS, isTimestamp, READINESS_CHECK_DEFAULTS, UNSUPPORTED_FIELDS } from './schema.js';

describe('defaults', () => {
  it("are Marathon's", () => {
    expect(APP_DEFAULTS).toMatchObject({
      instances: 1,
      cpus: 1,
      mem: 128,
      disk: 0,
      gpus: 0,
      backoffSeconds: 1,
      backoffFactor: 1.15,
      maxLaunchDelaySeconds: 300,
      killSelection: 'YOUNGEST_FIRST',
      upgradeStrategy: { minimumHealthCapacity: 1, maximumOverCapacity: 1 },
      unreachableStrategy: { inactiveAfterSeconds: 300, expungeAfterSeconds: 600 },
    });
    expect(HEALTH_CHECK_DEFAULTS).toMatchObject({ gracePeriodSeconds: 300, intervalSeconds: 60, timeoutSeconds: 20, maxConsecutiveFailures: 3, delaySeconds: 15, path: '/', portIndex: 0 });
    expect(READINESS_CHECK_DEFAULTS).toMatchObject({ intervalSeconds: 30, timeoutSeconds: 10, httpStatusCodesForReady: [200] });
  });
});

describe('AppDefinitionSchema', () => {
  it('checks shapes and ranges only, and refuses unknown keys', () => {
    expect(AppDefinitionSchema.safeParse({ id: 'x', cmd: 'y' }).success).toBe(true);
    expect(AppDefinitionSchema.safeParse({ id: 'x', cmd: 'y', cpus: -1 }).success).toBe(false);
    expect(AppDefinitionSchema.safeParse({ id: 'x', cmd: 'y', whatever: 1 }).success).toBe(false);
  });

  it('does not know the unsupported fields (parseApp reports them first)', () => {
    for (const field of Object.keys(UNSUPPORTED_FIELDS)) expect(Object.hasOwn(AppDefinitionSchema.shape, field), field).toBe(false);
  });
});

describe('isTimestamp', () => {
  it('takes ISO-8601 timestamps with a zone that name a real time', () => {
    for (const ok of ['2015-04-02T09:37:00.596Z', '2015-04-02T09:37Z', '2016-02-29T00:00:00+01:00', '2015-04-02T09:37:00.123456789-0530']) {
      expect(isTimestamp(ok), ok).toBe(true);
    }
    for (const bad of ['2015-04-02', '2015-04-02T09:37:00', '2015-02-29T00:00:00Z', '2015-13-01T00:00:00Z', '2015-04-02T25:00:00Z', 'now']) {
      expect(isTimestamp(bad), bad).toBe(false);
    }
  });
});
