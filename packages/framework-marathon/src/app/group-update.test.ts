import { describe, expect, it } from 'vitest';
import { type GroupUpdate, parseGroupUpdate, removedByGroupUpdate } from './group-update.js';
import { AppValidationError } from './validate.js';

function update(body: unknown, id = '/prod'): Extract<GroupUpdate, { kind: 'update' }> {
  const parsed = parseGroupUpdate(body, id);
  if (parsed.kind !== 'update') throw new Error('expected an update');
  return parsed;
}

function paths(body: unknown, id = '/prod'): string[] {
  try {
    parseGroupUpdate(body, id);
  } catch (error) {
    if (AppValidationError.isInstance(error)) return error.details.details.map((d) => d.path);
    throw error;
  }
  return [];
}

describe('parseGroupUpdate', () => {
  it('flattens nested groups, resolving ids against the parent group', () => {
    const parsed = update({
      id: '/prod',
      apps: [{ id: 'web' }],
      groups: [{ id: 'db', apps: [{ id: 'pg' }], groups: [{ id: '/prod/db/cache', apps: [] }] }],
    });
    expect(parsed.apps.map((a) => [a.group, a.path, a.definition.id])).toEqual([
      ['/prod', '/apps(0)', 'web'],
      ['/prod/db', '/groups(0)/apps(0)', 'pg'],
    ]);
    expect(parsed.nodes).toEqual([
      { id: '/prod', listsApps: true, groups: ['/prod/db'] },
      { id: '/prod/db', listsApps: true, groups: ['/prod/db/cache'] },
      { id: '/prod/db/cache', listsApps: true },
    ]);
  });

  it('adds group dependencies, resolved against the group’s parent, to every app below', () => {
    const parsed = update({ groups: [{ id: 'api', dependencies: ['db'], apps: [{ id: 'a', dependencies: ['/prod/db', '/prod/mq'] }, { id: 'b' }], groups: [{ id: 'inner', apps: [{ id: 'c' }] }] }] });
    expect(parsed.apps.map((a) => a.definition.dependencies)).toEqual([['/prod/db', '/prod/mq'], ['/prod/db'], ['/prod/db']]);
  });

  it('reads scaleBy alone', () => {
    expect(parseGroupUpdate({ scaleBy: 1.5 }, '/prod')).toEqual({ kind: 'scale', id: '/prod', scaleBy: 1.5 });
    expect(paths({ scaleBy: 2, apps: [] })).toEqual(['/apps']);
    expect(paths({ scaleBy: -1 })).toEqual(['/scaleBy']);
    expect(paths({ scaleBy: '2' })).toEqual(['/scaleBy']);
  });

  it('names every field that is wrong', () => {
    expect(paths([])).toEqual(['/']);
    expect(paths({ id: '/other' })).toEqual(['/id']);
    expect(paths({ pods: [], version: 'x', colour: 'red' })).toEqual(['/pods', '/version', '/colour']);
    expect(paths({ apps: {} })).toEqual(['/apps']);
    expect(paths({ apps: [1] })).toEqual(['/apps(0)']);
    expect(paths({ groups: [{ apps: [] }] })).toEqual(['/groups(0)/id']);
    expect(paths({ groups: [{ id: '/elsewhere' }] })).toEqual(['/groups(0)/id']);
    expect(paths({ groups: [{ id: 'a' }, { id: 'a' }] })).toEqual(['/groups(1)/id']);
    expect(paths({ groups: [{ id: 'a', scaleBy: 2, dependencies: ['/prod/a/x', 7] }] })).toEqual(['/groups(0)/scaleBy', '/groups(0)/dependencies(0)', '/groups(0)/dependencies(1)']);
  });
});

describe('removedByGroupUpdate', () => {
  const existing = ['/prod/web', '/prod/old', '/prod/db/pg', '/prod/db/cache/redis', '/prod/mq/rabbit', '/other/x'];

  it('drops the direct apps a group no longer lists, and the subgroups it no longer lists', () => {
    const parsed = update({ apps: [{ id: 'web' }], groups: [{ id: 'db', apps: [{ id: 'pg' }] }] });
    const listed = new Set(['/prod/web', '/prod/db/pg']);
    expect(removedByGroupUpdate(parsed, existing, listed)).toEqual(['/prod/mq/rabbit', '/prod/old']);
  });

  it('keeps what a group does not list at all', () => {
    expect(removedByGroupUpdate(update({ apps: [] }, '/prod/db'), existing, new Set())).toEqual(['/prod/db/pg']);
    expect(removedByGroupUpdate(update({ groups: [] }, '/prod/db'), existing, new Set())).toEqual(['/prod/db/cache/redis']);
    expect(removedByGroupUpdate(update({}, '/prod'), existing, new Set())).toEqual([]);
  });
});
