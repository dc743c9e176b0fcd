#!/usr/bin/env node
// create-relaykit <node|bun|deno> <target-dir>
//
// Copies apps/<runtime> out of the monorepo into a folder that stands alone: the workspace
// packages it uses (@relaykit/*) are packed with `pnpm pack` and vendored under vendor/, every
// `workspace:` reference becomes a relative `file:` one, and the runtime is pinned as a
// devDependency, so `npm install && npm start` (or pnpm/bun) works anywhere.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('../../../', import.meta.url)));
const RUNTIMES = ['node', 'bun', 'deno'];

const [runtime, target] = process.argv.slice(2);
if (!RUNTIMES.includes(runtime) || !target) {
  console.error(`usage: create-relaykit <${RUNTIMES.join('|')}> <target-dir>`);
  process.exit(2);
}
const out = resolve(target);
if (existsSync(out) && readdirSync(out).length > 0) {
  console.error(`create-relaykit: ${out} exists and is not empty`);
  process.exit(2);
}
if (!relative(root, out).startsWith('..')) {
  console.error('create-relaykit: the target must be outside the monorepo, or it would join the workspace');
  process.exit(2);
}

const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));
const writeJson = (file, value) => writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);

/** Workspace packages by name, with their folders. */
const workspace = new Map();
for (const group of ['packages', 'apps']) {
  for (const dir of readdirSync(join(root, group))) {
    const file = join(root, group, dir, 'package.json');
    if (existsSync(file)) workspace.set(readJson(file).name, join(root, group, dir));
  }
}
const rootManifest = readJson(join(root, 'package.json'));
const appDir = join(root, 'apps', runtime);
const app = readJson(join(appDir, 'package.json'));

/** The @relaykit packages the app needs at run time and for its conformance test, transitively. */
const needed = new Set();
const visit = (manifest, sections) => {
  for (const section of sections) {
    for (const [name, spec] of Object.entries(manifest[section] ?? {})) {
      if (!String(spec).startsWith('workspace:') || needed.has(name)) continue;
      needed.add(name);
      visit(readJson(join(workspace.get(name), 'package.json')), ['dependencies']);
    }
  }
};
visit(app, ['dependencies', 'devDependencies']);

const vendorName = (name) => name.replace(/^@relaykit\//, '');
const fileSpecs = (deps, prefix) =>
  Object.fromEntries(
    Object.entries(deps ?? {}).map(([name, spec]) => [name, needed.has(name) ? `file:${prefix}${vendorName(name)}` : spec]),
  );

/**
 * How to pack a workspace package: pnpm when it is on PATH, else npm, which every Node has (both
 * apply the package's `files`; the `workspace:` references are rewritten below either way).
 * Returns the tarball's file name in `dest`.
 */
function packer() {
  const works = (command) => {
    try {
      execFileSync(command, ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  if (works('pnpm')) {
    return (dir, dest) => basename(execFileSync('pnpm', ['pack', '--pack-destination', dest], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n').pop().trim());
  }
  if (works('npm')) {
    return (dir, dest) => JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', dest], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }))[0].filename;
  }
  throw new Error('neither pnpm nor npm is on PATH: install Node.js with npm (or pnpm) and run again');
}

/** Any failure from here on removes what was written, so that a rerun finds the target as it was. */
const existed = existsSync(out);
try {
  create();
} catch (error) {
  // The target was absent or empty (checked above): leave it so.
  rmSync(out, { recursive: true, force: true });
  if (existed) mkdirSync(out, { recursive: true });
  const detail = error?.stderr?.toString().trim() || error?.message || String(error);
  console.error(`create-relaykit: could not create ${out}: ${detail}`);
  process.exit(1);
}

function create() {
  const pack = packer();
  mkdirSync(join(out, 'vendor'), { recursive: true });
  const packs = mkdtempSync(join(tmpdir(), 'relaykit-pack-'));
  try {
    for (const name of needed) {
      // dist must be built: the app's start (turbo) or `pnpm build` builds it.
      const dir = workspace.get(name);
      const tarball = pack(dir, packs);
      const dest = join(out, 'vendor', vendorName(name));
      mkdirSync(dest, { recursive: true });
      execFileSync('tar', ['-xzf', resolve(packs, basename(tarball)), '-C', dest, '--strip-components=1']);
      const manifest = readJson(join(dest, 'package.json'));
      manifest.dependencies = fileSpecs(manifest.dependencies, '../');
      delete manifest.devDependencies;
      delete manifest.scripts;
      writeJson(join(dest, 'package.json'), manifest);
    }
  } finally {
    rmSync(packs, { recursive: true, force: true });
  }

  for (const entry of readdirSync(appDir)) {
    if (['node_modules', 'package.json', 'tsconfig.json', '.turbo', 'dist'].includes(entry)) continue;
    cpSync(join(appDir, entry), join(out, entry), { recursive: true });
  }

  // The runtime pinned in the monorepo travels with the starter, so `npm start` uses the same version.
  const runtimePin = { [runtime]: rootManifest.devDependencies[runtime] };
  const devDependencies = { ...runtimePin, ...fileSpecs(app.devDependencies, 'vendor/') };
  writeJson(join(out, 'package.json'), {
    name: `relaykit-${runtime}-starter`,
    version: '0.1.0',
    private: true,
    description: app.description,
    type: 'module',
    // The monorepo's start builds the shared packages first (turbo); the starter's come built.
    scripts: { ...app.scripts, start: app.scripts.start.replace(/^turbo run build [^&]*&& /, '') },
    dependencies: fileSpecs(app.dependencies, 'vendor/'),
    devDependencies,
    // npm 11 blocks dependency install scripts unless allowed; the runtime package needs its own.
    allowScripts: { [runtime]: true },
  });

  if (existsSync(join(appDir, 'tsconfig.json'))) {
    // Inline the monorepo's base config: the starter has no ../../tsconfig.base.json.
    const base = readJson(join(root, 'tsconfig.base.json'));
    const own = readJson(join(appDir, 'tsconfig.json'));
    delete own.extends;
    own.compilerOptions = { ...base.compilerOptions, ...own.compilerOptions };
    writeJson(join(out, 'tsconfig.json'), own);
  }

  writeFileSync(join(out, '.gitignore'), 'node_modules/\n');
  writeFileSync(
    join(out, 'README.md'),
    `# relaykit ${runtime} starter

Created by \`create-relaykit ${runtime}\` from the relaykit monorepo: the ${runtime} server app with
the shared relaykit packages vendored under \`vendor/\` (no workspace links).

    npm install        # or pnpm install / bun install; installs the pinned ${runtime} ${runtimePin[runtime]} too
    npm start          # PORT=8080 by default; see PROTOCOL.md in relaykit for every variable
    npm test           # runs the relaykit conformance suite against this server

Edit \`src/\` to make it your own service; \`vendor/core\` holds the runtime-neutral logic.
`,
  );
  console.log(`created ${out} from apps/${runtime} with ${[...needed].join(', ')} vendored`);
  console.log(`next: cd ${relative(process.cwd(), out) || '.'} && npm install && npm start`);
}
