#!/usr/bin/env node
// Installs what Stoa's tests need and a fresh Debian machine lacks: nats-server and chromium (Debian's
// packages of those names). Runs before `npm test`; does nothing when everything is present.
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Binaries the tests need, with the Debian package that provides each. */
const needs = [
  { binary: 'nats-server', pkg: 'nats-server' },
  // The web UI's browser tests drive Debian's chromium through playwright-core.
  { binary: 'chromium', pkg: 'chromium' },
];

function onPath(binary) {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/bin', '/usr/local/bin'];
  return dirs.some((dir) => {
    try {
      accessSync(join(dir, binary), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

const missing = needs.filter((n) => !onPath(n.binary));
if (missing.length === 0) process.exit(0);

const pkgs = missing.map((n) => n.pkg);
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const hasApt = spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0;
if (!hasApt) {
  console.error(`Tests need ${missing.map((n) => n.binary).join(', ')}; install the package(s) ${pkgs.join(', ')} and run again.`);
  process.exit(1);
}
const sudo = isRoot ? [] : ['sudo'];
console.log(`Installing ${pkgs.join(', ')} with apt-get (needed by the tests)…`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
const run = (args) => execFileSync(sudo[0] ?? args[0], sudo.length ? args : args.slice(1), { stdio: 'inherit', env });
run(['apt-get', 'update']);
run(['apt-get', 'install', '-y', '--no-install-recommends', ...pkgs]);
const still = missing.filter((n) => !onPath(n.binary));
if (still.length > 0) {
  console.error(`Still missing after install: ${still.map((n) => n.binary).join(', ')}`);
  process.exit(1);
}
