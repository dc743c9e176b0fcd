import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
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
