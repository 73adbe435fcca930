/**
 * Real `nats-server` processes for tests: one server or a cluster, on free loopback ports, each in
 * a temp dir that is removed on stop. Handles are disposable (`await using`), and a watchdog
 * kills every server this process started if the process dies without stopping them (a test
 * runner's worker killed at a timeout, say).
 *
 * @example
 * ```ts
 * await using nats = await startNats({ jetstream: true });
 * const transport = await NatsTransport.connect({ servers: nats.url });
 *
 * await using cluster = await startNatsCluster({ nodes: 3 });
 * await cluster.nodes[0].kill();       // SIGKILL one node
 * await cluster.nodes[0].restart();    // same ports, same store dir
 * ```
 * @module
 */

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { accessSync, appendFileSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { waitFor } from './wait-for.js';

/** The error when no `nats-server` binary can be found. */
export class NatsServerNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NatsServerNotFoundError';
  }
}

/** Finds the `nats-server` binary: `STOA_NATS_SERVER`, then PATH, then `/usr/sbin` and `/usr/bin`. */
export function findNatsServer(): string | undefined {
  const fromEnv = process.env.STOA_NATS_SERVER;
  if (fromEnv) return isExecutable(fromEnv) ? fromEnv : undefined;
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/bin', '/usr/local/bin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, 'nats-server');
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function requireNatsServer(binary?: string): string {
  const found = binary ?? findNatsServer();
  if (!found) {
    throw new NatsServerNotFoundError(
      'nats-server was not found on PATH (nor in STOA_NATS_SERVER). Install it with `apt-get install -y nats-server` ' +
        "(Debian's package nats-server), or run `node scripts/ensure-test-deps.mjs`.",
    );
  }
  return found;
}

/** Asks the kernel for a free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The watchdog: one detached shell per test process that kills our servers if we die.

let watchdogDir: string | undefined;
let serverCount = 0;
const live = new Set<ChildProcess>();

function pidFile(): string {
  if (watchdogDir) return join(watchdogDir, 'pids');
  watchdogDir = mkdtempSync(join(tmpdir(), 'stoa-testkit-'));
  const file = join(watchdogDir, 'pids');
  writeFileSync(file, '');
  const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; xargs -r kill -9 < '${file}' 2>/dev/null; rm -rf '${watchdogDir}'`;
  spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' }).unref();
  process.once('exit', () => {
    for (const child of live) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
  return file;
}

// ---------------------------------------------------------------------------------------------

/** One server process: its ports, its dirs, and fault helpers. */
export interface NatsNode extends AsyncDisposable {
  /** The server name. */
  readonly name: string;
  /** `nats://127.0.0.1:<port>`. */
  readonly url: string;
  /** The client port. */
  readonly port: number;
  /** The pid of the running process, or undefined while it is down. */
  readonly pid: number | undefined;
  /** The JetStream store dir (kept across restarts). */
  readonly storeDir: string;
  /** Whether the process runs. */
  readonly running: boolean;
  /** Sends a signal (default SIGKILL) and waits until the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again with the same ports, config and store dir, and waits until it is ready. */
  restart(): Promise<void>;
  /** SIGSTOP: the process stays but answers nothing. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** Stops the process and removes its temp dir. */
  stop(): Promise<void>;
  /** The tail of the server's log, for a failing test's message. */
  logTail(lines?: number): string;
}

/** Options of {@link startNats}. */
export interface StartNatsOptions {
  /** Enable JetStream (needed by `NatsKvStore`). @default true */
  jetstream?: boolean;
  /** The binary. @default found by {@link findNatsServer} */
  binary?: string;
  /** Extra lines for the server's config file (authorization blocks, say). */
  extraConfig?: string;
  /** How long to wait for readiness. @default 20000 */
  readyTimeoutMs?: number;
  /**
   * A directory for the config, log and JetStream data, kept after `stop()` so a later start
   * finds its data again (`stoa dev --data`). @default a temp dir, removed on stop
   */
  dir?: string;
  /** The client port. @default a free one */
  port?: number;
  /** Listen on this address. @default '127.0.0.1' */
  host?: string;
}

interface NodeSpec {
  name: string;
  dir: string;
  port: number;
  jetstream: boolean;
  cluster?: { name: string; port: number; routes: number[] };
  extraConfig?: string;
  binary: string;
  readyTimeoutMs: number;
  /** Keep `dir` on stop. */
  keep?: boolean;
  host?: string;
}

function configText(spec: NodeSpec): string {
  const lines = [`server_name: ${spec.name}`, `listen: ${spec.host ?? '127.0.0.1'}:${spec.port}`, 'max_payload: 8MB'];
  if (spec.jetstream) {
    lines.push(`jetstream { store_dir: ${JSON.stringify(join(spec.dir, 'js'))}, max_memory_store: 256MB, max_file_store: 2GB }`);
  }
  if (spec.cluster) {
    const routes = spec.cluster.routes.map((p) => `nats-route://127.0.0.1:${p}`).join(', ');
    lines.push(`cluster { name: ${spec.cluster.name}, listen: 127.0.0.1:${spec.cluster.port}, routes: [${routes}] }`);
  }
  if (spec.extraConfig) lines.push(spec.extraConfig);
  return `${lines.join('\n')}\n`;
}

class Node implements NatsNode {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readonly logPath: string;
  private readonly confPath: string;
  private removed = false;

  constructor(private readonly spec: NodeSpec) {
    mkdirSync(spec.dir, { recursive: true });
    this.logPath = join(spec.dir, 'server.log');
    this.confPath = join(spec.dir, 'server.conf');
    writeFileSync(this.confPath, configText(spec));
  }

  get name() {
    return this.spec.name;
  }
  get url() {
    const host = this.spec.host === undefined || this.spec.host === '0.0.0.0' ? '127.0.0.1' : this.spec.host;
    return `nats://${host}:${this.spec.port}`;
  }
  get port() {
    return this.spec.port;
  }
  get pid() {
    return this.child?.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }
  get storeDir() {
    return join(this.spec.dir, 'js');
  }
  get running() {
    return this.pid !== undefined;
  }

  /** Spawns the process; readiness is awaited separately so a cluster can start all nodes first. */
  spawn(): void {
    const child = spawn(this.spec.binary, ['-c', this.confPath, '-l', this.logPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    this.child = child;
    live.add(child);
    if (child.pid) appendFileSync(pidFile(), `${child.pid}\n`);
    this.exited = new Promise((resolve) => {
      child.once('exit', () => {
        live.delete(child);
        if (stderr) appendFileSync(this.logPath, stderr);
        resolve();
      });
    });
  }

  async waitReady(): Promise<void> {
    await waitFor(
      async () => {
        if (!this.running) throw new Error(`nats-server ${this.name} exited: ${this.logTail(20)}`);
        const nc = await connect({ servers: this.url, reconnect: false, timeout: 1000 });
        try {
          if (this.spec.jetstream) {
            const jsm = await jetstreamManager(nc, { timeout: 1000 });
            await jsm.getAccountInfo();
          }
          return true;
        } finally {
          await nc.close();
        }
      },
      { timeoutMs: this.spec.readyTimeoutMs, intervalMs: 50, what: `nats-server ${this.name} on ${this.url} to be ready` },
    );
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    if (child.signalCode === null && child.exitCode === null) child.kill('SIGCONT');
    child.kill(signal);
    await this.exited;
  }

  async restart(): Promise<void> {
    await this.kill('SIGKILL');
    this.spawn();
    await this.waitReady();
  }

  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  async stop(): Promise<void> {
    if (this.running) {
      const done = this.exited;
      this.child?.kill('SIGCONT');
      this.child?.kill('SIGTERM');
      const timer = setTimeout(() => this.child?.kill('SIGKILL'), 3000);
      await done;
      clearTimeout(timer);
    }
    if (!this.removed && !this.spec.keep) {
      this.removed = true;
      rmSync(this.spec.dir, { recursive: true, force: true });
    }
  }

  logTail(lines = 40): string {
    if (!existsSync(this.logPath)) return '';
    return readFileSync(this.logPath, 'utf8').split('\n').slice(-lines).join('\n');
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** A single server, as {@link startNats} returns it. */
export interface NatsServerHandle extends NatsNode {
  /** The URL list to hand to a client (one entry). */
  readonly servers: string[];
}

/**
 * Starts one `nats-server` on a free loopback port with JetStream in a temp dir (or in `dir`,
 * kept), and waits until ready.
 */
export async function startNats(options: StartNatsOptions = {}): Promise<NatsServerHandle> {
  const binary = requireNatsServer(options.binary);
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'stoa-nats-'));
  const spec: NodeSpec = {
    name: `stoa-${process.pid}-${++serverCount}`,
    dir,
    keep: options.dir !== undefined,
    ...(options.host ? { host: options.host } : {}),
    port: options.port ?? (await freePort()),
    jetstream: options.jetstream ?? true,
    binary,
    readyTimeoutMs: options.readyTimeoutMs ?? 20_000,
    ...(options.extraConfig ? { extraConfig: options.extraConfig } : {}),
  };
  const node = new Node(spec);
  node.spawn();
  try {
    await node.waitReady();
  } catch (error) {
    await node.stop();
    throw error;
  }
  return Object.assign(node, { servers: [node.url] }) as Node & { servers: string[] };
}

/** Options of {@link startNatsCluster}. */
export interface StartNatsClusterOptions extends StartNatsOptions {
  /** How many servers. @default 3 */
  nodes?: number;
}

/** A cluster of servers routed to each other, as {@link startNatsCluster} returns it. */
export interface NatsClusterHandle extends AsyncDisposable {
  /** The servers, in start order. */
  readonly nodes: NatsNode[];
  /** Every client URL, for a client's `servers` option. */
  readonly servers: string[];
  /** Stops every server and removes the temp dirs. */
  stop(): Promise<void>;
}

/**
 * Starts a cluster of `nodes` servers (JetStream on by default) on loopback, each with its own
 * config file and store dir, and waits until JetStream answers on every node.
 */
export async function startNatsCluster(options: StartNatsClusterOptions = {}): Promise<NatsClusterHandle> {
  const binary = requireNatsServer(options.binary);
  const count = options.nodes ?? 3;
  const root = mkdtempSync(join(tmpdir(), 'stoa-nats-cluster-'));
  const ports: number[] = [];
  const clusterPorts: number[] = [];
  while (ports.length < count) {
    const p = await freePort();
    if (!ports.includes(p)) ports.push(p);
  }
  while (clusterPorts.length < count) {
    const p = await freePort();
    if (!ports.includes(p) && !clusterPorts.includes(p)) clusterPorts.push(p);
  }
  const clusterName = `stoa-test-${process.pid}`;
  const nodes = ports.map(
    (port, i) =>
      new Node({
        name: `n${i + 1}`,
        dir: join(root, `n${i + 1}`),
        port,
        jetstream: options.jetstream ?? true,
        cluster: { name: clusterName, port: clusterPorts[i]!, routes: clusterPorts.filter((_, j) => j !== i) },
        extraConfig: options.extraConfig,
        binary,
        readyTimeoutMs: options.readyTimeoutMs ?? 30_000,
      } as NodeSpec),
  );
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    rmSync(root, { recursive: true, force: true });
  };
  for (const node of nodes) node.spawn();
  try {
    await Promise.all(nodes.map((n) => n.waitReady()));
  } catch (error) {
    await stop();
    throw error;
  }
  return { nodes, servers: nodes.map((n) => n.url), stop, [Symbol.asyncDispose]: stop };
}

/** The version the `nats-server` binary reports, e.g. `2.9.10`, or undefined when none is found. */
export function natsServerVersion(binary?: string): string | undefined {
  const found = binary ?? findNatsServer();
  if (!found) return undefined;
  const out = execFileSync(found, ['--version'], { encoding: 'utf8' });
  return /v?(\d+\.\d+\.\d+)/.exec(out)?.[1];
}
