import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { appDefinitionArbitrary } from './arbitraries.js';
import { compareVersions, configHash, diffApps, formatVersion, isVersion, stampVersion } from './version.js';
import { parseApp, safeParseApp } from './validate.js';

const base = parseApp({ id: '/web', cmd: 'serve', instances: 2, labels: { a: '1' } });
const t0 = new Date('2020-01-01T00:00:00.000Z');
const t1 = new Date('2020-01-02T00:00:00.000Z');
const t2 = new Date('2020-01-03T00:00:00.000Z');

describe('diffApps', () => {
  it('calls a change of instances alone scaling', () => {
    expect(diffApps(base, { ...base, instances: 5 })).toEqual({ kind: 'scaling', changed: ['instances'] });
  });

  it('calls any other change a config change, naming the fields', () => {
    expect(diffApps(base, { ...base, instances: 5, cmd: 'serve -v' })).toEqual({ kind: 'config', changed: ['cmd', 'instances'] });
    expect(diffApps(base, { ...base, labels: { a: '2' } })).toEqual({ kind: 'config', changed: ['labels'] });
    const { cmd: _cmd, ...rest } = base;
    expect(diffApps(base, { ...rest, args: ['serve'] }).changed).toEqual(['args', 'cmd']);
  });

  it('ignores version fields and object key order', () => {
    const reordered = { ...base, labels: { a: '1' }, upgradeStrategy: { maximumOverCapacity: 1, minimumHealthCapacity: 1 } };
    expect(diffApps(base, { ...reordered, version: '2030-01-01T00:00:00.000Z' })).toEqual({ kind: 'none', changed: [] });
  });

  it('finds no change between an app and itself re-parsed', () => {
    fc.assert(
      fc.property(appDefinitionArbitrary(), (definition) => {
        const app = parseApp(definition);
        expect(diffApps(app, parseApp(JSON.parse(JSON.stringify(app)))).kind).toBe('none');
      }),
      { numRuns: 100 },
    );
  });
});

describe('stampVersion', () => {
  it('stamps a new app with now', () => {
    const stamped = stampVersion(base, undefined, t0);
    expect(stamped.version).toBe('2020-01-01T00:00:00.000Z');
    expect(stamped.versionInfo).toEqual({ lastScalingAt: stamped.version, lastConfigChangeAt: stamped.version });
  });

  it('moves lastScalingAt only when scaling, both on a config change, nothing without a change', () => {
    const v0 = stampVersion(base, undefined, t0);
    const scaled = stampVersion({ ...v0, instances: 9 }, v0, t1);
    expect(scaled.version).toBe(formatVersion(t1));
    expect(scaled.versionInfo).toEqual({ lastScalingAt: formatVersion(t1), lastConfigChangeAt: formatVersion(t0) });
    const changed = stampVersion({ ...scaled, cmd: 'other' }, scaled, t2);
    expect(changed.versionInfo).toEqual({ lastScalingAt: formatVersion(t2), lastConfigChangeAt: formatVersion(t2) });
    const same = stampVersion({ ...changed }, changed, new Date('2030-01-01T00:00:00Z'));
    expect(same.version).toBe(changed.version);
    expect(same.versionInfo).toEqual(changed.versionInfo);
  });

  it('always moves the version forward, even when the clock has not', () => {
    const v0 = stampVersion(base, undefined, t1);
    const next = stampVersion({ ...v0, instances: 3 }, v0, t0);
    expect(compareVersions(next.version!, v0.version!)).toBe(1);
  });
});

describe('version strings', () => {
  it('are ISO-8601 UTC timestamps', () => {
    expect(isVersion('2015-04-02T09:37:00.596Z')).toBe(true);
    expect(isVersion('2015-04-02T09:37:00Z')).toBe(false);
    expect(isVersion('yesterday')).toBe(false);
    expect(compareVersions('2015-04-02T09:37:00.596Z', '2015-04-02T09:37:00.597Z')).toBeLessThan(0);
  });
});

describe('configHash', () => {
  it('changes with the config, not with instances, versions or key order', () => {
    const hash = configHash(base);
    expect(hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(configHash({ ...base, instances: 9, version: '2030-01-01T00:00:00.000Z' })).toBe(hash);
    expect(configHash({ ...base, upgradeStrategy: { maximumOverCapacity: 1, minimumHealthCapacity: 1 } })).toBe(hash);
    expect(configHash({ ...base, labels: { a: '2' } })).not.toBe(hash);
    expect(configHash({ ...base, upgradeStrategy: { ...base.upgradeStrategy, autoRollback: true } })).not.toBe(hash);
  });

  it('agrees with diffApps on whether the config changed', () => {
    fc.assert(
      fc.property(appDefinitionArbitrary(), appDefinitionArbitrary(), (a, b) => {
        const x = parseApp(a);
        const other = safeParseApp({ ...b, id: x.id });
        fc.pre(other.ok);
        const y = other.value;
        expect(configHash(x) === configHash(y)).toBe(diffApps(x, y).kind !== 'config');
        expect(configHash(x)).toBe(configHash({ ...x, instances: x.instances + 1 }));
      }),
      { numRuns: 100 },
    );
  });
});
