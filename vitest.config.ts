import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Vite does not resolve a package's own name, so the self-reference `chorus` (package.json "exports")
// that Node resolves for listener modules is mirrored here as aliases.
export default defineConfig({
  resolve: {
    alias: [
      { find: /^chorus\/testing$/, replacement: fileURLToPath(new URL('./src/testing/index.ts', import.meta.url)) },
      { find: /^chorus$/, replacement: fileURLToPath(new URL('./src/index.ts', import.meta.url)) },
    ],
  },
  test: {
    include: ['src/**/*.test.ts', 'listeners/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 20_000,
  },
});
