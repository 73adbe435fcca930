/**
 * The fetcher: puts a task's URIs into its sandbox before the task starts, as the Mesos fetcher
 * does. `http(s)://` URIs are downloaded, `file://` URIs and absolute paths are copied; archives
 * (`.tar.gz`, `.tgz`, `.tar`, `.zip`) are extracted next to the downloaded file; `executable`
 * sets mode 0755; `cache` keeps a copy in a per-agent cache directory, keyed by the URI's sha256,
 * and reuses it on later fetches. Any failure is a {@link FetchError} naming the URI, which the
 * agent reports as TASK_FAILED with REASON_FETCHER_FAILED.
 *
 * @example
 * ```ts
 * const files = await fetchUris(task.command.uris ?? [], sandboxDir, { cacheDir, timeoutMs: 30_000 });
 * // files[0].path === `${sandboxDir}/app.tar.gz`, files[0].extracted === true
 * ```
 * @module
 */

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, copyFile, mkdir, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { fileURLToPath } from 'node:url';
import { type CommandUri, StoaError, type StoaErrorOptions } from '@stoa/core';
import { extract as extractTar } from 'tar';
import yauzl from 'yauzl';

const FETCH_ERROR = Symbol.for('stoa.agent.fetch-error');

/**
 * A URI could not be fetched, copied, cached or extracted. `details.uri` is the URI; the message
 * names it too. The agent turns it into TASK_FAILED with REASON_FETCHER_FAILED.
 */
export class FetchError extends StoaError {
  constructor(uri: string, reason: string, options?: ErrorOptions) {
    const opts: StoaErrorOptions = { details: { uri } };
    if (options && 'cause' in options) opts.cause = options.cause;
    super('INTERNAL', `failed to fetch ${uri}: ${reason}`, opts);
    this.name = 'FetchError';
    Object.defineProperty(this, FETCH_ERROR, { value: true });
  }

  /** The URI that failed. */
  get uri(): string {
    return String(this.details.uri);
  }

  /** True for a fetch error, also one made by another copy of this package. */
  static override isInstance(value: unknown): value is FetchError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[FETCH_ERROR] === true;
  }
}

/** Options of {@link fetchUris}. */
export interface FetchOptions {
  /** The agent's fetcher cache; URIs with `cache: true` are fetched without caching when unset. @default none */
  cacheDir?: string;
  /** The time limit of one URI's transfer (download or copy), in milliseconds. @default 60000 */
  timeoutMs?: number;
}

/** One fetched URI. */
export interface FetchedFile {
  /** The URI as given. */
  uri: string;
  /** Where the fetched file is in the sandbox (the archive itself, when extracted). */
  path: string;
  /** Its size in bytes. */
  bytes: number;
  /** Whether it was an archive and its contents were extracted into the sandbox. */
  extracted: boolean;
  /** Whether it came from the cache rather than from its source. */
  fromCache: boolean;
}

/** The default time limit of one URI, in milliseconds. */
export const DEFAULT_FETCH_TIMEOUT_MS = 60_000;

/**
 * Fetches every URI into `sandboxDir` (created when missing), one after another, in order.
 * A URI with `executable: true` is made executable and never extracted (as in Mesos); any other
 * archive is extracted unless `extract: false`. Rejects with a {@link FetchError} at the first
 * URI that fails; files fetched before it stay in the sandbox.
 */
export async function fetchUris(uris: readonly CommandUri[], sandboxDir: string, options: FetchOptions = {}): Promise<FetchedFile[]> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS;
  try {
    await mkdir(sandboxDir, { recursive: true });
  } catch (error) {
    throw new FetchError(uris[0]?.value ?? '(none)', `cannot create sandbox ${sandboxDir}: ${messageOf(error)}`, { cause: error });
  }
  const fetched: FetchedFile[] = [];
  for (const uri of uris) {
    try {
      fetched.push(await fetchOne(uri, sandboxDir, timeoutMs, options.cacheDir));
    } catch (error) {
      if (FetchError.isInstance(error)) throw error;
      throw new FetchError(uri.value, messageOf(error), { cause: error });
    }
  }
  return fetched;
}

/** Where a URI's bytes come from. */
type Source = { kind: 'http'; url: URL } | { kind: 'file'; path: string };

async function fetchOne(uri: CommandUri, sandboxDir: string, timeoutMs: number, cacheDir: string | undefined): Promise<FetchedFile> {
  const source = parseSource(uri.value);
  const name = uri.outputFile ?? nameFromSource(uri.value, source);
  checkOutputName(uri.value, name);
  const target = join(sandboxDir, name);

  let fromCache = false;
  if (uri.cache === true && cacheDir !== undefined) {
    const cached = await ensureCached(uri.value, source, cacheDir, timeoutMs);
    fromCache = cached.hit;
    await copyFile(cached.path, target);
  } else {
    await transferAtomically(uri.value, source, target, timeoutMs);
  }

  let extracted = false;
  if (uri.executable === true) {
    await chmod(target, 0o755);
  } else if (uri.extract !== false) {
    const kind = archiveKind(name);
    if (kind === 'tar') {
      await extractTarball(target, sandboxDir);
      extracted = true;
    } else if (kind === 'zip') {
      await extractZip(target, sandboxDir);
      extracted = true;
    }
  }
  const { size } = await stat(target);
  return { uri: uri.value, path: target, bytes: size, extracted, fromCache };
}

function parseSource(value: string): Source {
  if (/^https?:\/\//i.test(value)) {
    let url: URL;
    try {
      url = new URL(value);
    } catch (error) {
      throw new FetchError(value, 'not a valid URL', { cause: error });
    }
    return { kind: 'http', url };
  }
  if (/^file:/i.test(value)) {
    try {
      return { kind: 'file', path: fileURLToPath(value) };
    } catch (error) {
      throw new FetchError(value, `not a valid file URI: ${messageOf(error)}`, { cause: error });
    }
  }
  if (value.startsWith('/')) return { kind: 'file', path: value };
  throw new FetchError(value, 'unsupported URI: expected http://, https://, file:// or an absolute path');
}

function nameFromSource(value: string, source: Source): string {
  if (source.kind === 'file') return basename(source.path);
  const segment = source.url.pathname.split('/').pop() ?? '';
  try {
    return decodeURIComponent(segment);
  } catch (error) {
    throw new FetchError(value, `cannot decode the file name "${segment}"`, { cause: error });
  }
}

/** A name is one path segment inside the sandbox: no separators, no `.`/`..`, no NUL. */
function checkOutputName(value: string, name: string): void {
  if (name === '') throw new FetchError(value, 'the URI has no file name; set outputFile');
  if (name === '.' || name === '..' || name.includes('..') || /[/\\\0]/.test(name)) {
    throw new FetchError(value, `unsafe output file name "${name}"`);
  }
}

function archiveKind(name: string): 'tar' | 'zip' | undefined {
  const lower = name.toLowerCase();
  if (lower.endsWith('.tar.gz') || lower.endsWith('.tgz') || lower.endsWith('.tar')) return 'tar';
  if (lower.endsWith('.zip')) return 'zip';
  return undefined;
}

/** Downloads or copies into a temporary file next to `target`, renamed into place once complete. */
async function transferAtomically(value: string, source: Source, target: string, timeoutMs: number): Promise<void> {
  const partial = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.part`);
  try {
    await transfer(value, source, partial, timeoutMs);
    await rename(partial, target);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
}

async function transfer(value: string, source: Source, destination: string, timeoutMs: number): Promise<void> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    if (source.kind === 'http') {
      const response = await fetch(source.url, { signal: controller.signal, redirect: 'follow' });
      if (!response.ok) {
        await response.body?.cancel().catch(() => {});
        throw new FetchError(value, `HTTP ${response.status} ${response.statusText}`.trimEnd());
      }
      const body = response.body ? Readable.fromWeb(response.body as WebReadableStream<Uint8Array>) : Readable.from([]);
      await pipeline(body, createWriteStream(destination), { signal: controller.signal });
    } else {
      await pipeline(createReadStream(source.path), createWriteStream(destination), { signal: controller.signal });
    }
  } catch (error) {
    if (controller.signal.aborted) throw new FetchError(value, `timed out after ${timeoutMs} ms`, { cause: error });
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** Downloads in flight into the cache, so concurrent fetches of one URI on this agent share one transfer. */
const inFlight = new Map<string, Promise<void>>();

/** Makes sure the cache holds the URI's bytes; says where, and whether they were already there. */
async function ensureCached(value: string, source: Source, cacheDir: string, timeoutMs: number): Promise<{ path: string; hit: boolean }> {
  const path = join(cacheDir, createHash('sha256').update(value).digest('hex'));
  if (await exists(path)) return { path, hit: true };
  let pending = inFlight.get(path);
  if (!pending) {
    pending = (async () => {
      await mkdir(cacheDir, { recursive: true });
      await transferAtomically(value, source, path, timeoutMs);
    })().finally(() => inFlight.delete(path));
    inFlight.set(path, pending);
  }
  await pending;
  return { path, hit: false };
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * node-tar already refuses entries with `..` and strips leading `/`, but only warns; `strict`
 * turns those warnings into errors so a hostile archive fails the fetch instead of half-landing.
 */
async function extractTarball(archive: string, sandboxDir: string): Promise<void> {
  await extractTar({ file: archive, cwd: sandboxDir, strict: true, preserveOwner: false });
}

/** Extracts a zip into `sandboxDir`, refusing any entry that would land outside it (zip-slip). */
async function extractZip(archive: string, sandboxDir: string): Promise<void> {
  const root = await realpath(sandboxDir);
  // yauzl rejects absolute and `..` names itself (strict decoding); we check the resolved path
  // too, and the real path of each parent, so a symlink already in the sandbox cannot be followed out.
  const zip = await yauzl.openPromise(archive, { strictFileNames: true, validateEntrySizes: true });
  try {
    for await (const entry of zip.eachEntry()) {
      const destination = resolve(root, entry.fileName);
      if (!isInside(root, destination)) throw new Error(`zip entry "${entry.fileName}" escapes the sandbox`);
      if (entry.fileName.endsWith('/')) {
        await mkdir(destination, { recursive: true });
        continue;
      }
      const parent = dirname(destination);
      await mkdir(parent, { recursive: true });
      const realParent = await realpath(parent);
      if (realParent !== root && !isInside(root, realParent)) throw new Error(`zip entry "${entry.fileName}" escapes the sandbox`);
      const mode = zipEntryMode(entry);
      await pipeline(await zip.openReadStreamPromise(entry), createWriteStream(destination, { mode }));
      await chmod(destination, mode);
    }
  } finally {
    zip.close();
  }
}

/** 0755 for entries made on Unix with any execute bit, else 0644; never setuid or symlinks. */
function zipEntryMode(entry: yauzl.Entry): number {
  const madeOnUnix = entry.versionMadeBy >>> 8 === 3;
  const unixMode = (entry.externalFileAttributes >>> 16) & 0o777;
  return madeOnUnix && (unixMode & 0o111) !== 0 ? 0o755 : 0o644;
}

/** Whether `path` is strictly below `root`. */
function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !rel.startsWith(sep);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
