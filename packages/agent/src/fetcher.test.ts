/**
 * Tests of the fetcher against a local HTTP server and local files: plain files, archives (tar
 * made with node-tar, zip bytes written by hand), failures, the executable bit, the cache, unsafe
 * names and entries, and the per-URI timeout.
 */

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { StoaError } from '@stoa/core';
import { create as createTar, Header } from 'tar';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FetchError, fetchUris } from './fetcher.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A local server with one handler per path, counting hits per path. */
class FileServer {
  readonly hits = new Map<string, number>();
  readonly routes = new Map<string, Handler>();
  private readonly server: Server;
  port = 0;

  constructor() {
    this.server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      this.hits.set(path, (this.hits.get(path) ?? 0) + 1);
      const handler = this.routes.get(path);
      if (handler) handler(req, res);
      else res.writeHead(404).end('not found');
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  serve(path: string, body: Buffer | string): void {
    this.routes.set(path, (_req, res) => res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body));
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(data: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of data) crc = (CRC_TABLE[(crc ^ byte) & 0xff] ?? 0) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** A zip of stored (uncompressed) entries, made on "Unix" so modes ride in the external attributes. */
function makeZip(entries: { name: string; data?: string; mode?: number }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    const data = Buffer.from(entry.data ?? '', 'utf8');
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(10, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    locals.push(local, name, data);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by Unix
    central.writeUInt16LE(10, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(name.length, 28);
    const isDir = entry.name.endsWith('/');
    central.writeUInt32LE((((isDir ? 0o040000 : 0o100000) | (entry.mode ?? 0o644)) << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += local.length + name.length + data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

/** A tar with one file entry whose name node-tar would never write itself (`../evil.txt`). */
function makeHostileTar(): Buffer {
  const data = Buffer.from('evil\n');
  const header = new Header({ path: '../evil.txt', mode: 0o644, size: data.length, type: 'File', mtime: new Date(0), uid: 0, gid: 0 });
  header.encode();
  const padding = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([header.block!, data, padding, Buffer.alloc(1024)]);
}

async function expectFetchError(promise: Promise<unknown>, uri: string, pattern?: RegExp): Promise<FetchError> {
  const error = await promise.then(
    () => {
      throw new Error(`expected fetching ${uri} to fail`);
    },
    (e: unknown) => e,
  );
  expect(FetchError.isInstance(error)).toBe(true);
  const fetchError = error as FetchError;
  expect(fetchError.message).toContain(uri);
  expect(fetchError.details.uri).toBe(uri);
  if (pattern) expect(fetchError.message).toMatch(pattern);
  return fetchError;
}

let server: FileServer;
let tmp: string;
let sandbox: string;
let tarGz: Buffer;
let plainTar: Buffer;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'stoa-fetcher-'));
  const src = join(tmp, 'src');
  await mkdir(join(src, 'bin'), { recursive: true });
  await writeFile(join(src, 'README'), 'read me\n');
  await writeFile(join(src, 'bin', 'run.sh'), '#!/bin/sh\necho run\n', { mode: 0o755 });
  await createTar({ gzip: true, file: join(tmp, 'app.tar.gz'), cwd: src, portable: true }, ['README', 'bin']);
  await createTar({ file: join(tmp, 'app.tar'), cwd: src, portable: true }, ['README', 'bin']);
  tarGz = await readFile(join(tmp, 'app.tar.gz'));
  plainTar = await readFile(join(tmp, 'app.tar'));

  server = new FileServer();
  await server.listen();
  server.serve('/files/hello.txt', 'hello world\n');
  server.serve('/files/hello%20there.txt', 'spaced\n');
  server.serve('/files/app.tar.gz', tarGz);
  server.serve('/files/app.tgz', tarGz);
  server.serve('/files/app.tar', plainTar);
  server.serve('/files/evil.tar', makeHostileTar());
  server.serve(
    '/files/app.zip',
    makeZip([
      { name: 'conf/' },
      { name: 'conf/app.conf', data: 'port=8080\n' },
      { name: 'start.sh', data: '#!/bin/sh\necho start\n', mode: 0o755 },
    ]),
  );
  server.serve('/files/slip.zip', makeZip([{ name: 'ok.txt', data: 'ok' }, { name: '../slipped.txt', data: 'evil' }]));
  server.serve('/files/absolute.zip', makeZip([{ name: '/tmp/stoa-absolute-slip.txt', data: 'evil' }]));
  server.serve('/files/', 'index');
  server.routes.set('/files/hang-body', (_req, res) => {
    res.writeHead(200, { 'content-length': '1000' });
    res.write('partial');
  });
  server.routes.set('/files/hang-headers', () => {});
  server.routes.set('/files/error', (_req, res) => res.writeHead(500).end('boom'));
});

afterAll(async () => {
  await server?.close();
  await rm(tmp, { recursive: true, force: true });
});

beforeEach(async () => {
  sandbox = await mkdtemp(join(tmp, 'sandbox-'));
});

afterEach(async () => {
  await rm(sandbox, { recursive: true, force: true });
});

describe('fetchUris over HTTP', () => {
  it('downloads a plain file under its last path segment', async () => {
    const uri = server.url('/files/hello.txt');
    const [file] = await fetchUris([{ value: uri }], sandbox, {});
    expect(file).toEqual({ uri, path: join(sandbox, 'hello.txt'), bytes: 12, extracted: false, fromCache: false });
    expect(await readFile(join(sandbox, 'hello.txt'), 'utf8')).toBe('hello world\n');
    expect(await readdir(sandbox)).toEqual(['hello.txt']);
  });

  it('URL-decodes the file name and honours outputFile', async () => {
    const files = await fetchUris(
      [{ value: server.url('/files/hello%20there.txt') }, { value: server.url('/files/hello.txt'), outputFile: 'greeting' }],
      sandbox,
    );
    expect(files.map((f) => f.path)).toEqual([join(sandbox, 'hello there.txt'), join(sandbox, 'greeting')]);
    expect(await readFile(join(sandbox, 'greeting'), 'utf8')).toBe('hello world\n');
  });

  it.each(['/files/app.tar.gz', '/files/app.tgz', '/files/app.tar'])('extracts %s into the sandbox, keeping the archive', async (path) => {
    const [file] = await fetchUris([{ value: server.url(path) }], sandbox);
    expect(file?.extracted).toBe(true);
    expect(await readFile(join(sandbox, 'README'), 'utf8')).toBe('read me\n');
    expect(await readFile(join(sandbox, 'bin', 'run.sh'), 'utf8')).toContain('echo run');
    expect((await stat(join(sandbox, 'bin', 'run.sh'))).mode & 0o111).not.toBe(0);
    expect(existsSync(file!.path)).toBe(true);
  });

  it('extracts a zip, keeping directories and execute bits', async () => {
    const [file] = await fetchUris([{ value: server.url('/files/app.zip') }], sandbox);
    expect(file?.extracted).toBe(true);
    expect(await readFile(join(sandbox, 'conf', 'app.conf'), 'utf8')).toBe('port=8080\n');
    expect((await stat(join(sandbox, 'start.sh'))).mode & 0o777).toBe(0o755);
    expect((await stat(join(sandbox, 'conf', 'app.conf'))).mode & 0o777).toBe(0o644);
  });

  it('does not extract with extract: false, nor an executable', async () => {
    const files = await fetchUris(
      [
        { value: server.url('/files/app.tar.gz'), extract: false },
        { value: server.url('/files/app.zip'), executable: true },
      ],
      sandbox,
    );
    expect(files.map((f) => f.extracted)).toEqual([false, false]);
    expect((await readdir(sandbox)).sort()).toEqual(['app.tar.gz', 'app.zip']);
  });

  it('sets mode 0755 with executable: true', async () => {
    const [file] = await fetchUris([{ value: server.url('/files/hello.txt'), executable: true }], sandbox);
    expect((await stat(file!.path)).mode & 0o777).toBe(0o755);
  });

  it('fails on a 404 and on a 500, naming the URI and leaving no partial file', async () => {
    const missing = server.url('/files/missing.bin');
    await expectFetchError(fetchUris([{ value: missing }], sandbox), missing, /404/);
    const broken = server.url('/files/error');
    const error = await expectFetchError(fetchUris([{ value: broken }], sandbox), broken, /500/);
    expect(StoaError.isInstance(error)).toBe(true);
    expect(error.code).toBe('INTERNAL');
    expect(error.name).toBe('FetchError');
    expect(await readdir(sandbox)).toEqual([]);
  });

  it('stops at the first failing URI', async () => {
    const missing = server.url('/files/missing.bin');
    await expectFetchError(fetchUris([{ value: server.url('/files/hello.txt') }, { value: missing }, { value: server.url('/files/app.tar') }], sandbox), missing);
    expect(await readdir(sandbox)).toEqual(['hello.txt']);
  });

  it('fails when the response does not finish in time, and when it never starts', async () => {
    for (const path of ['/files/hang-body', '/files/hang-headers']) {
      const uri = server.url(path);
      const started = Date.now();
      await expectFetchError(fetchUris([{ value: uri }], sandbox, { timeoutMs: 150 }), uri, /timed out after 150 ms/);
      expect(Date.now() - started).toBeLessThan(5_000);
    }
    expect(await readdir(sandbox)).toEqual([]);
  });
});

describe('fetchUris from local files', () => {
  it('copies file:// URIs and plain absolute paths', async () => {
    const source = join(tmp, 'local file.txt');
    await writeFile(source, 'local\n');
    const fileUri = pathToFileURL(source).href;
    const files = await fetchUris([{ value: fileUri }, { value: join(tmp, 'app.tar.gz'), outputFile: 'copy.tgz' }], sandbox);
    expect(files.map((f) => f.path)).toEqual([join(sandbox, 'local file.txt'), join(sandbox, 'copy.tgz')]);
    expect(files[1]?.extracted).toBe(true);
    expect(await readFile(join(sandbox, 'local file.txt'), 'utf8')).toBe('local\n');
    expect(await readFile(join(sandbox, 'README'), 'utf8')).toBe('read me\n');
  });

  it('fails on a missing file, a relative path and an unsupported scheme', async () => {
    const missing = join(tmp, 'nope.txt');
    await expectFetchError(fetchUris([{ value: missing }], sandbox), missing, /ENOENT/);
    await expectFetchError(fetchUris([{ value: 'relative/file.txt' }], sandbox), 'relative/file.txt', /unsupported/);
    await expectFetchError(fetchUris([{ value: 'ftp://example.invalid/x' }], sandbox), 'ftp://example.invalid/x', /unsupported/);
  });
});

describe('fetchUris cache', () => {
  it('downloads once and serves later fetches from the cache', async () => {
    const cacheDir = join(tmp, 'cache');
    server.serve('/files/cached.tgz', tarGz);
    const uri = server.url('/files/cached.tgz');
    const first = await fetchUris([{ value: uri, cache: true }], sandbox, { cacheDir });
    const other = await mkdtemp(join(tmp, 'sandbox-'));
    try {
      const second = await fetchUris([{ value: uri, cache: true }], other, { cacheDir });
      expect(server.hits.get('/files/cached.tgz')).toBe(1);
      expect(first[0]?.fromCache).toBe(false);
      expect(second[0]?.fromCache).toBe(true);
      expect(second[0]?.extracted).toBe(true);
      expect(await readFile(join(other, 'README'), 'utf8')).toBe('read me\n');
      const key = createHash('sha256').update(uri).digest('hex');
      expect(await readdir(cacheDir)).toEqual([key]);
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });

  it('shares one download between concurrent fetches of a URI', async () => {
    const cacheDir = join(tmp, 'cache-concurrent');
    server.serve('/files/shared.bin', 'shared');
    const sandboxes = await Promise.all([1, 2, 3].map(() => mkdtemp(join(tmp, 'sandbox-'))));
    try {
      const results = await Promise.all(sandboxes.map((dir) => fetchUris([{ value: server.url('/files/shared.bin'), cache: true }], dir, { cacheDir })));
      expect(server.hits.get('/files/shared.bin')).toBe(1);
      expect(results.map((r) => r[0]?.bytes)).toEqual([6, 6, 6]);
    } finally {
      await Promise.all(sandboxes.map((dir) => rm(dir, { recursive: true, force: true })));
    }
  });

  it('fetches every time without cache: true or without a cache dir', async () => {
    server.serve('/files/uncached.txt', 'x');
    const cacheDir = join(tmp, 'cache-unused');
    await fetchUris([{ value: server.url('/files/uncached.txt') }], sandbox, { cacheDir });
    await fetchUris([{ value: server.url('/files/uncached.txt'), cache: true, outputFile: 'again' }], sandbox, {});
    expect(server.hits.get('/files/uncached.txt')).toBe(2);
    expect(existsSync(cacheDir)).toBe(false);
  });

  it('caches nothing when the download fails', async () => {
    const cacheDir = join(tmp, 'cache-failed');
    const uri = server.url('/files/error');
    await expectFetchError(fetchUris([{ value: uri, cache: true }], sandbox, { cacheDir }), uri);
    expect(await readdir(cacheDir)).toEqual([]);
  });
});

describe('fetchUris safety', () => {
  it.each([
    ['../escape', /unsafe/],
    ['a/b', /unsafe/],
    ['..', /unsafe/],
    ['.', /unsafe/],
  ])('rejects the output name %s', async (outputFile, pattern) => {
    const uri = server.url('/files/hello.txt');
    const before = server.hits.get('/files/hello.txt') ?? 0;
    await expectFetchError(fetchUris([{ value: uri, outputFile }], sandbox), uri, pattern);
    expect(server.hits.get('/files/hello.txt') ?? 0).toBe(before);
  });

  it('rejects names that decode to a traversal, and URIs without a name', async () => {
    const encoded = server.url('/files/..%2F..%2Fetc%2Fpasswd');
    await expectFetchError(fetchUris([{ value: encoded }], sandbox), encoded, /unsafe/);
    const dir = server.url('/files/');
    await expectFetchError(fetchUris([{ value: dir }], sandbox), dir, /no file name/);
    expect(server.hits.get('/files/')).toBeUndefined();
  });

  it('refuses zip entries that leave the sandbox (zip-slip)', async () => {
    for (const [path, reason] of [
      ['/files/slip.zip', /invalid relative path/],
      ['/files/absolute.zip', /absolute path/],
    ] as const) {
      const uri = server.url(path);
      await expectFetchError(fetchUris([{ value: uri }], sandbox), uri, reason);
    }
    expect(existsSync(join(sandbox, '..', 'slipped.txt'))).toBe(false);
    expect(existsSync('/tmp/stoa-absolute-slip.txt')).toBe(false);
  });

  it('refuses zip entries that would write through a symlink out of the sandbox', async () => {
    const outside = await mkdtemp(join(tmp, 'outside-'));
    await symlink(outside, join(sandbox, 'link'));
    server.serve('/files/through-link.zip', makeZip([{ name: 'link/planted.txt', data: 'evil' }]));
    const uri = server.url('/files/through-link.zip');
    await expectFetchError(fetchUris([{ value: uri }], sandbox), uri, /escapes the sandbox/);
    expect(await readdir(outside)).toEqual([]);
  });

  it('refuses tar entries with ..', async () => {
    const uri = server.url('/files/evil.tar');
    await expectFetchError(fetchUris([{ value: uri }], sandbox), uri, /contains '\.\.'/);
    expect(existsSync(join(sandbox, '..', 'evil.txt'))).toBe(false);
  });
});
