import { ValidationError } from '@stoa/sdk';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { appIdArbitrary } from './arbitraries.js';
import {
  ancestorIds,
  appIdFromTaskId,
  appIdToHostname,
  checkAppId,
  checkId,
  idSegmentProblem,
  idSegments,
  isWithin,
  parentId,
  resolveId,
  taskIdFor,
} from './ids.js';

describe('checkId / resolveId', () => {
  it('resolves relative ids against a base group, folding . and ..', () => {
    expect(resolveId('web', '/shop')).toBe('/shop/web');
    expect(resolveId('./web', '/shop')).toBe('/shop/web');
    expect(resolveId('../db', '/shop/web')).toBe('/shop/db');
    expect(resolveId('a/../b', '/')).toBe('/b');
    expect(resolveId('/x/./y/', '/shop')).toBe('/x/y');
    expect(resolveId('//x//y', '/')).toBe('/x/y');
    expect(resolveId('..', '/shop')).toBe('/');
  });

  it('refuses empty ids, bad segments and climbing above the root', () => {
    expect(checkId('')).toEqual({ ok: false, message: 'must not be empty' });
    expect(checkId('..', '/')).toMatchObject({ ok: false, message: expect.stringMatching(/above the root/) });
    expect(checkId('x', 'relative')).toMatchObject({ ok: false });
    expect(() => resolveId('/A')).toThrow(ValidationError);
    try {
      resolveId('/a b');
    } catch (e) {
      expect((e as ValidationError).field).toBe('id');
    }
  });

  it("checks segments with Marathon's rule", () => {
    for (const ok of ['a', 'a1', '1a', 'a-b', 'a.b', 'a-1.b-2', 'x.y.z', '0']) expect(idSegmentProblem(ok), ok).toBeUndefined();
    for (const bad of ['A', '-a', 'a-', 'a_b', 'a..b', '.a', 'a.', 'a.-b', 'ä', 'a b']) expect(idSegmentProblem(bad), bad).toBeDefined();
  });

  it('refuses the root and reserved last segments for apps', () => {
    expect(checkAppId('/')).toMatchObject({ ok: false });
    expect(checkAppId('/a/versions')).toMatchObject({ ok: false });
    expect(checkAppId('/tasks/a')).toEqual({ ok: true, id: '/tasks/a' });
  });

  it('resolving is idempotent and yields canonical absolute ids', () => {
    fc.assert(
      fc.property(appIdArbitrary, appIdArbitrary, (id, base) => {
        const resolved = resolveId(id.slice(1), base);
        expect(resolved).toBe(`${base}${id}`);
        expect(resolveId(resolved, '/elsewhere')).toBe(resolved);
        expect(`/${idSegments(resolved).join('/')}`).toBe(resolved);
      }),
    );
  });
});

describe('the tree of ids', () => {
  it('knows parents and ancestors', () => {
    expect(parentId('/shop/web')).toBe('/shop');
    expect(parentId('/web')).toBe('/');
    expect(parentId('/')).toBe('/');
    expect(ancestorIds('/a/b/c')).toEqual(['/a/b', '/a', '/']);
    expect(ancestorIds('/')).toEqual([]);
  });

  it('knows what is within a group', () => {
    expect(isWithin('/a/b', '/a')).toBe(true);
    expect(isWithin('/a', '/a')).toBe(true);
    expect(isWithin('/a', '/')).toBe(true);
    expect(isWithin('/ab', '/a')).toBe(false);
    expect(isWithin('/a', '/a/b')).toBe(false);
  });
});

describe('names derived from ids', () => {
  it('makes a hostname-like task name', () => {
    expect(appIdToHostname('/shop/web')).toBe('web.shop');
    expect(appIdToHostname('/web')).toBe('web');
  });

  it('makes task ids whose app can be read back', () => {
    expect(taskIdFor('/shop/web', 'a1b2')).toBe('shop_web.a1b2');
    expect(appIdFromTaskId('shop_web.a1b2')).toBe('/shop/web');
    expect(appIdFromTaskId('no-dot')).toBeUndefined();
    expect(appIdFromTaskId('.x')).toBeUndefined();
    expect(appIdFromTaskId('Bad_Id.x')).toBeUndefined();
    fc.assert(
      fc.property(appIdArbitrary, fc.uuid(), (appId, uuid) => {
        expect(appIdFromTaskId(taskIdFor(appId, uuid))).toBe(appId);
      }),
    );
  });
});
