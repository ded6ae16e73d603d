// Playwright drives the system Chromium (Debian's package); no browser is ever downloaded.
// The server is started by the test command (.ci/test), which passes its address in AOC_BASE_URL.
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: './tests',
  // The demo pass collects while the tests run; pages can take seconds to hydrate under load.
  timeout: 60_000,
  expect: { timeout: 15_000 },
  retries: 0,
  workers: 1,
  reporter: [['list']],
  use: {
    baseURL: process.env.AOC_BASE_URL || 'http://127.0.0.1:3000',
    browserName: 'chromium',
    headless: true,
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--disable-quic',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
  },
  projects: [
    { name: 'javascript', use: { javaScriptEnabled: true }, testIgnore: /no-js\.spec\.mjs/ },
    { name: 'no-javascript', use: { javaScriptEnabled: false }, testMatch: /no-js\.spec\.mjs/ },
  ],
});
