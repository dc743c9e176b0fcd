import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The package's own tests (no server): the pinned case list. The suite itself is vitest.config.mjs.
export default defineConfig({
  test: {
    root: fileURLToPath(new URL('.', import.meta.url)),
    include: ['test/*.test.ts'],
  },
});
