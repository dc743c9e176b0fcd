import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../../..');
const create = resolve(import.meta.dirname, '../bin/create-relaykit.mjs');
const scratch = mkdtempSync(join(tmpdir(), 'relaykit-starters-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Every file of the starter outside node_modules, for the no-links-back check. */
function files(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    if (entry === 'node_modules') return [];
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

describe.each(['node', 'bun', 'deno'])('create-relaykit %s', (runtime) => {
  it('makes a standalone starter that installs, starts and passes the conformance suite', { timeout: 600_000 }, async () => {
    const dir = join(scratch, `${runtime}-service`);
    await run(process.execPath, [create, runtime, dir], { cwd: root });

    for (const file of files(dir)) {
      const text = readFileSync(file, 'utf8');
      expect(text, file).not.toContain('workspace:');
      expect(text, file).not.toContain(root);
    }
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    expect(manifest.dependencies['@relaykit/core']).toBe('file:vendor/core');

    // A clean environment: nothing of the monorepo's pnpm/turbo PATH leaks into the starter.
    const env = { PATH: process.env.PATH!.split(':').filter((p) => !p.startsWith(root)).join(':'), HOME: process.env.HOME! };
    await run('npm', ['install', '--no-audit', '--no-fund'], { cwd: dir, env, maxBuffer: 1 << 24 });
    const test = await run('npm', ['test'], { cwd: dir, env, maxBuffer: 1 << 24 }).catch((error) => error);
    expect(test.code ?? 0, `${test.stdout}\n${test.stderr}`).toBe(0);
    expect(test.stdout).toMatch(/Tests\s+.*\d+ passed/);
  });
});

describe('create-relaykit without pnpm', () => {
  /** A PATH with this Node and the system's tools (tar; npm unless `withNpm` is false), and no pnpm. */
  function pathWithout(withNpm: boolean): string {
    const bin = mkdtempSync(join(scratch, 'bin-'));
    symlinkSync(process.execPath, join(bin, 'node'));
    symlinkSync('/usr/bin/tar', join(bin, 'tar'));
    if (withNpm) return [bin, ...process.env.PATH!.split(':').filter((p) => !existsSync(join(p, 'pnpm')))].join(':');
    return bin;
  }

  it('packs with npm and makes a starter whose start runs the app as it is', { timeout: 300_000 }, async () => {
    const dir = join(scratch, 'npm-packed');
    const { stdout } = await run(process.execPath, [create, 'node', dir], { cwd: root, env: { PATH: pathWithout(true), HOME: process.env.HOME! } });
    expect(stdout).toContain('created');
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    expect(manifest.scripts.start).toBe('node src/main.ts');
    expect(JSON.parse(readFileSync(join(dir, 'vendor/core/package.json'), 'utf8')).name).toBe('@relaykit/core');
    expect(existsSync(join(dir, 'vendor/core/dist/index.js'))).toBe(true);
  });

  it('fails with one clear line, no stack trace, and leaves no folder behind to block a rerun', { timeout: 120_000 }, async () => {
    const dir = join(scratch, 'no-packer');
    const failed = await run(process.execPath, [create, 'bun', dir], { cwd: root, env: { PATH: pathWithout(false) } }).catch((error) => error);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/^create-relaykit: could not create .*neither pnpm nor npm is on PATH/);
    expect(failed.stderr).not.toMatch(/^\s+at /m);
    expect(existsSync(dir)).toBe(false);
  });

  it('removes what it wrote when packing fails half-way, so that a rerun works', { timeout: 300_000 }, async () => {
    const dir = join(scratch, 'half-way');
    const path = pathWithout(false);
    // A pnpm that answers --version and fails to pack, after the target folder was made.
    writeFileSync(join(path, 'pnpm'), '#!/bin/sh\n[ "$1" = --version ] && exit 0\necho "pack failed: disk full" >&2\nexit 1\n');
    chmodSync(join(path, 'pnpm'), 0o755);
    const failed = await run(process.execPath, [create, 'node', dir], { cwd: root, env: { PATH: path } }).catch((error) => error);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/^create-relaykit: could not create .*pack failed: disk full/);
    expect(existsSync(dir)).toBe(false);
    await run(process.execPath, [create, 'node', dir], { cwd: root, env: { PATH: pathWithout(true), HOME: process.env.HOME! } });
    expect(existsSync(join(dir, 'vendor/core/dist/index.js'))).toBe(true);
  });
});
