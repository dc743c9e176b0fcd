/**
 * The layering every change must keep (checked by `pnpm test`, once the packages are built, since
 * workspace imports resolve to their dist/): apps -> node-edge -> core -> contracts, one way.
 * Sessions reach the server through the SessionHost interface, never through Relay, so they stay
 * testable with fakes and free of import cycles.
 */
module.exports = {
  forbidden: [
    {
      name: 'contracts-are-a-leaf',
      comment: 'contracts hold schemas and interfaces only: they import no other relaykit package',
      severity: 'error',
      from: { path: '^packages/contracts/src' },
      to: { path: '^(packages/(core|client|conformance|demo|e2e)|apps|load)/' },
    },
    {
      name: 'core-imports-no-app',
      comment: 'core is runtime-neutral: no app, no runtime-specific module',
      severity: 'error',
      from: { path: '^packages/core/src' },
      to: { path: '^(apps|packages/(client|conformance|demo|e2e|node-edge)|load)/' },
    },
    {
      name: 'core-uses-no-runtime-module',
      comment: 'core runs unchanged on Node, Bun and Deno: runtime modules belong to the apps',
      severity: 'error',
      from: { path: '^packages/core/src' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'sessions-never-import-relay',
      severity: 'error',
      from: { path: '^packages/core/src/(ws-session|sse-session|poll|backlog|hub|session-host)\\.ts$' },
      to: { path: '^packages/core/src/relay\\.ts$' },
    },
    {
      name: 'nothing-imports-an-app',
      comment: 'an app is copied out alone (create-relaykit): nothing else may depend on its code',
      severity: 'error',
      from: { pathNot: '^apps/([^/]+)/' },
      to: { path: '^apps/[^/]+/src/' },
    },
    {
      name: 'apps-do-not-import-each-other',
      severity: 'error',
      from: { path: '^apps/([^/]+)/' },
      to: { path: '^apps/[^/]+/', pathNot: '^apps/$1/' },
    },
    {
      name: 'every-import-resolves',
      comment: 'an import of a package the importer does not depend on would fail once copied out',
      severity: 'error',
      from: {},
      // Modules the runtime or k6 provides at run time, not packages.
      to: { couldNotResolve: true, pathNot: ['^bun$', '^bun:', '^k6$', '^k6/'] },
    },
    {
      name: 'no-cycles-in-core',
      severity: 'error',
      from: { path: '^packages/core/src' },
      to: { circular: true },
    },
  ],
  options: {
    // Workspace packages resolve to their dist/ (edges to them are checked, their insides are not).
    doNotFollow: { path: '(^|/)(node_modules|dist)/' },
    exclude: { path: '(^|/)\\.[^/]+/' },
    tsPreCompilationDeps: true,
    combinedDependencies: true,
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'types', 'default'] },
  },
};
