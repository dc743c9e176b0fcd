/**
 * The state of one load run: the LoadRun record (schema in @relaykit/contracts) and where it is
 * written, the run's clock and log lines, progress while a phase runs, the load-average gate,
 * notes and errors, the server currently under test (killed on Ctrl-C), and the end of the run
 * (schema check, report, the `load: N passed, M failed` line).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LoadRun, type LoadMeasurement, type LoadTarget } from '@relaykit/contracts';
import { docsJson, renderDocs } from '../report/docs.ts';
import { renderReport } from '../report/render.ts';
import type { RunOptions } from './cli.ts';
import { loadavg1 } from './proc.ts';
import type { Profile } from './profiles.ts';
import { round } from './stats.ts';
import { LOAD_DIR, ROOT, type RunningServer, type TargetDef, runtimeVersions, whyUnavailable } from './targets.ts';

export class RunState {
  readonly run: LoadRun;
  readonly profile: Profile;
  readonly outDir: string;
  readonly outFile: string;
  /** Where the markdown report (and with --docs the JSON and charts) goes. */
  readonly reportDir: string;
  readonly versions: Record<string, { version: string; engine: string }>;
  /** The server under test right now, if any: killed when the run is interrupted. */
  current: RunningServer | undefined;
  /** Further processes up now (the cluster suite's Redis and its several servers at once): killed with `current`. */
  readonly running = new Set<{ pid: number }>();
  private readonly docs: boolean;
  /** `--suites soak` alone: its JSON in docs/ is load-report-soak.json, beside the full run's. */
  private readonly soakOnly: boolean;
  private readonly t0 = Date.now();
  private gates = 0;

  /** Creates the results directory and the run record (machine, runtime versions, limits). */
  constructor(options: RunOptions) {
    this.profile = options.profile;
    this.docs = options.docs;
    this.soakOnly = [...options.suites].every((s) => s === 'soak');
    this.outDir = options.out ?? join(LOAD_DIR, 'results');
    mkdirSync(this.outDir, { recursive: true });
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    this.outFile = join(this.outDir, `run-${this.profile.name}-${stamp}${this.soakOnly ? '-soak' : ''}.json`);
    this.reportDir = options.docs ? join(ROOT, 'docs') : join(this.outDir, `report-${this.profile.name}`);
    this.versions = runtimeVersions();
    const files = openFilesLimit();
    this.run = {
      schemaVersion: 1,
      profile: this.profile.name,
      startedAt: new Date().toISOString(),
      finishedAt: '',
      machine: {
        cpuModel: cpus()[0]?.model ?? '?',
        cpus: cpus().length,
        memGiB: round(totalmem() / 2 ** 30, 1),
        kernel: release(),
        openFilesLimit: files,
        loadavgAtStart: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number),
      },
      runtimes: this.versions,
      limits: {
        connectionsPerServer: this.profile.maxConnections,
        note: `One process may hold at most ${files} open files here (hard limit), so each server holds at most ${this.profile.maxConnections} connections; load clients are spread over ${this.profile.workers} worker processes, each bound to its own source address (127.0.0.2…) for its own ephemeral ports.`,
      },
      targets: [],
      measurements: [],
      notes: [],
      errors: [],
    };
  }

  // ---- clock, log, progress -----------------------------------------------------------------

  /** mm:ss since the run started. */
  clock(): string {
    const s = Math.floor((Date.now() - this.t0) / 1000);
    return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
  }

  readonly log = (msg: string): void => console.log(`[${this.clock()}] ${msg}`);

  /** Waits for `promise`, printing progress every 2 s; rejects after `timeoutMs`. */
  async withProgress<T>(promise: Promise<T>, timeoutMs: number, progress: () => Promise<string>): Promise<T> {
    let done = false;
    const ticker = (async () => {
      while (!done) {
        await sleep(2000);
        if (!done) this.log(`  ${await progress()}`);
      }
    })();
    try {
      return await Promise.race([
        promise,
        sleep(timeoutMs).then(() => {
          throw new Error(`timed out after ${timeoutMs / 1000} s`);
        }),
      ]);
    } finally {
      done = true;
      void ticker;
    }
  }

  /**
   * Before a block of measurements: waits (up to the profile's gate time) for the 1-minute load
   * average to fall below 0.7; returns the load average measured under.
   */
  async gate(what: string): Promise<number> {
    const waitMs = this.gates++ === 0 ? this.profile.firstGateMs : this.profile.loadGateMs;
    const deadline = Date.now() + waitMs;
    let load = loadavg1();
    if (waitMs > 0 && load >= 0.7) {
      this.log(`waiting for the 1-minute load average to fall below 0.7 (now ${load}) before ${what}, up to ${waitMs / 1000} s`);
      while (load >= 0.7 && Date.now() < deadline) {
        await sleep(2000);
        load = loadavg1();
      }
      if (load >= 0.7) this.log(`load average still ${load}: measuring anyway`);
    }
    return load;
  }

  // ---- the record ---------------------------------------------------------------------------

  measured(m: LoadMeasurement): void {
    // A measurement with nothing to measure (a server that died: no event delivered) has NaN
    // percentiles; kept, they would make the whole run's JSON fail its schema and lose its report.
    const missing = Object.keys(m.figures).filter((key) => !Number.isFinite(m.figures[key]));
    if (missing.length > 0) {
      for (const key of missing) delete m.figures[key];
      this.error(`${m.target} ${m.scenario} ${m.transport} #${m.repeat}: nothing measured for ${missing.join(', ')}`);
    }
    this.run.measurements.push(m);
  }

  note(msg: string): void {
    this.run.notes.push(msg);
  }

  /** A failure of the run itself; logged as `ERROR …` unless `quiet`. */
  error(msg: string, quiet = false): void {
    if (!quiet) this.log(`ERROR ${msg}`);
    this.run.errors.push(msg);
  }

  save(): void {
    this.run.finishedAt = new Date().toISOString();
    writeFileSync(this.outFile, JSON.stringify(this.run, null, 1));
  }

  /** Records every target, skipped ones with why; returns those that can run. */
  addTargets(defs: TargetDef[]): TargetDef[] {
    const available: TargetDef[] = [];
    for (const def of defs) {
      const why = whyUnavailable(def, this.profile);
      const target: LoadTarget = { id: def.id, runtime: def.runtime, kind: def.kind, label: def.label, protocol: def.protocol, transports: def.transports, version: why ? '' : def.version() };
      if (why) {
        target.skipped = why;
        this.log(`skipping ${def.id}: ${why}`);
        if (def.kind === 'relaykit') this.run.errors.push(`${def.id} could not run: ${why}`);
        else this.note(`${def.label} was not run: ${why}.`);
      } else available.push(def);
      this.run.targets.push(target);
    }
    return available;
  }

  /** Notes the commit the servers were measured from; errors when a runtime is not the pinned one. */
  checkProvenance(): void {
    try {
      const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
      const dirty = execFileSync('git', ['status', '--porcelain', '--', 'apps', 'packages/core', 'packages/contracts'], { cwd: ROOT, encoding: 'utf8' }).trim();
      this.note(`Servers measured from commit ${head}${dirty ? ` plus uncommitted changes in the working tree (${dirty.split('\n').length} files under apps/ and packages/)` : ''}.`);
    } catch {}
    const pins: Record<string, RegExp> = { node: /^Node v24\./, bun: /^Bun 1\.4\./, deno: /^Deno 2\.9\./ };
    for (const [rt, re] of Object.entries(pins))
      if (!re.test(this.versions[rt]?.version ?? '')) this.run.errors.push(`${rt} is ${this.versions[rt]?.version}, not the pinned ${re.source.replace(/\\/g, '')}x`);
  }

  // ---- limits and interruption --------------------------------------------------------------

  /** Ends the process (exit 2) when the run passes its time limit. */
  limitTime(ms: number): void {
    setTimeout(() => {
      this.log('ERROR: the run exceeded its time limit; stopping');
      this.run.errors.push('run exceeded its time limit');
      this.killServers();
      this.save();
      process.exit(2);
    }, ms).unref();
  }

  /** Interrupted (Ctrl-C, SIGTERM): stop the server under test, keep what was measured, render it. */
  stopOnSignals(): void {
    for (const signal of ['SIGINT', 'SIGTERM'] as const)
      process.on(signal, () => {
        this.log(`${signal}: stopping; the report shows what was measured so far`);
        this.run.errors.push(`run interrupted by ${signal} after ${this.clock()}; measurements after that point are missing`);
        this.killServers();
        this.save();
        try {
          this.writeReport();
        } catch (error) {
          console.error(error);
        }
        process.exit(130);
      });
  }

  /** SIGKILL to every server up now and its process group (a WORKERS > 1 server's workers are in it). */
  private killServers(): void {
    for (const p of [...(this.current ? [this.current] : []), ...this.running]) {
      for (const target of [-p.pid, p.pid]) {
        try {
          process.kill(target, 'SIGKILL');
        } catch {}
      }
    }
  }

  // ---- the end ------------------------------------------------------------------------------

  /**
   * The markdown report (with --docs: the JSON beside it, and the page rendered from this run and
   * the other profile's JSON there, report/docs.ts); logs and returns its path.
   */
  writeReport(): string {
    mkdirSync(this.reportDir, { recursive: true });
    if (this.docs) writeFileSync(join(this.reportDir, docsJson(this.run, this.soakOnly)), JSON.stringify(this.run, null, 1));
    const file = this.docs ? renderDocs(this.reportDir) : renderReport(this.run, this.reportDir, 'load-report.md');
    this.log(`report: ${file}`);
    return file;
  }

  /**
   * Checks the record against the schema, writes it and the report, and prints one line per
   * failure and the `load: N passed, M failed` line; `extraFailures` are failures counted outside
   * the measurements. Returns the exit code.
   */
  finish(extraFailures = 0): number {
    this.save();
    const parsed = LoadRun.safeParse(this.run);
    if (!parsed.success) this.run.errors.push(`result does not match the LoadRun schema: ${parsed.error.message.slice(0, 500)}`);
    this.save();
    this.log(`results: ${this.outFile}`);
    this.writeReport();
    let failed = this.run.errors.length + extraFailures;
    let passed = 0;
    for (const m of this.run.measurements) {
      const bad = Object.entries(m.errors).filter(([, v]) => v > 0);
      if (bad.length) {
        failed++;
        this.log(`FAIL ${m.target} ${m.scenario}${m.scenario === 'attack' ? ` ${m.params.attack}` : ''} ${m.transport} #${m.repeat}: ${bad.map(([k, v]) => `${k}=${v}`).join(', ')}`);
      } else passed++;
    }
    for (const e of this.run.errors) this.log(`FAIL ${e.split('\n')[0]}`);
    console.log(`load: ${passed} passed, ${failed} failed`);
    return failed ? 1 : 0;
  }
}

function openFilesLimit(): number {
  const m = /Max open files\s+(\d+)\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'));
  return m ? Number(m[2]) : 0;
}
