import { defineConfig } from '@playwright/test'

// End-to-end tests drive the real `skeet serve` (the debug build from `cargo build`, or
// SKEET_BIN) serving dist/ and the API on one port, with a fresh data directory per run,
// in Debian's chromium (`apt-get install chromium`; Playwright cannot download browsers here).
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const PORT = Number(process.env.E2E_PORT ?? 4173)
const SKEET = process.env.SKEET_BIN ?? '../target/debug/skeet'
// The local Binance test server (crates/testkit, `skeet-venue-sim`) the Markets and Exchange
// accounts pages talk to, through `skeet serve --venue-url`.
const VENUE_PORT = Number(process.env.E2E_VENUE_PORT ?? PORT + 17)
const VENUE_SIM = process.env.SKEET_VENUE_SIM ?? '../target/debug/skeet-venue-sim'
// One data directory per port, so runs on different ports never share one.
export const DATA_DIR = `test-results/e2e-data-${PORT}`

export default defineConfig({
  testDir: './e2e',
  outputDir: './test-results/output',
  timeout: 60_000,
  expect: { timeout: 15_000 },
  retries: 0,
  workers: 1,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    browserName: 'chromium',
    headless: true,
    viewport: { width: 1280, height: 800 },
    launchOptions: {
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  webServer: [
    {
      command: `${VENUE_SIM} --listen 127.0.0.1:${VENUE_PORT} --history-bars 3000 --walk-ms 300`,
      url: `http://127.0.0.1:${VENUE_PORT}/api/v3/exchangeInfo`,
      reuseExistingServer: false,
      timeout: 60_000,
    },
    {
      command: `rm -rf ${DATA_DIR} && ${SKEET} --data-dir ${DATA_DIR} serve --listen 127.0.0.1:${PORT} --ui-dir dist --workers 2 --venue-url binance=http://127.0.0.1:${VENUE_PORT}`,
      url: `http://127.0.0.1:${PORT}/healthz`,
      reuseExistingServer: false,
      timeout: 60_000,
    },
  ],
})
