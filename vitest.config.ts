import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // integration and e2e tests own real daemons and VMs: run files one at a time
    fileParallelism: false,
  },
});
