import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  test: {
    root,
    include: ['src/cases/*.test.ts'],
    globalSetup: ['src/global-setup.ts'],
    // Files run one after another: several of them read process-wide gauges (/metrics) and the
    // machine may have only two cores. Cases wait on events, never on the clock.
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 40_000,
    reporters: ['verbose'],
  },
});
