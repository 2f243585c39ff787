// Venues in the browser, against the local Binance test server (`skeet-venue-sim`, started by
// playwright.config.ts and reached through `skeet serve --venue-url`): the market browser
// with its live ticker, and "Test connection" for an exchange account.
import { expect, test } from '@playwright/test'
import { signUp, watchErrors } from './helpers'

// The key pair the test server accepts: the example of Binance's signing documentation.
const KEY = 'vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A'
const SECRET = 'NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j'

test('the market browser lists rules and streams a live ticker', async ({ page }) => {
  const errors = watchErrors(page)
  await signUp(page, `markets-${Date.now()}@example.com`)
  await page.getByRole('link', { name: 'Markets' }).click()
  await expect(page.getByLabel('Venue')).toHaveValue('binance')
  const table = page.getByRole('table', { name: 'Markets' })
  const row = table.getByRole('row').filter({ hasText: 'BTC/USDT' })
  await expect(row).toContainText('BTCUSDT')
  await expect(row).toContainText('0.01')
  await expect(row).toContainText('5 USDT')
  await page.getByLabel('Filter').fill('eth')
  await expect(table.getByRole('row').filter({ hasText: 'BTC/USDT' })).toHaveCount(0)
  await page.getByLabel('Filter').fill('')
  await table.getByRole('button', { name: 'BTC/USDT' }).click()
  await expect(page.getByText('live', { exact: true })).toBeVisible()
  const last = page.getByTestId('ticker-last')
  await expect(last).toHaveText(/^\d+(\.\d+)?$/)
  // The test server's price walks every 300 ms: the ticker keeps changing on its own.
  const first = await last.textContent()
  await expect(page.getByTestId('ticker-updates')).toHaveText(/^[3-9]\d* updates|^\d{2,} updates/, { timeout: 20_000 })
  await expect(last).not.toHaveText(first ?? '', { timeout: 20_000 })
  await page.screenshot({ path: 'test-results/screenshots/markets.png', fullPage: true })
  expect(errors).toEqual([])
})

test('an owner tests an exchange account and sees its rights', async ({ page }) => {
  const errors = watchErrors(page)
  await signUp(page, `accounts-${Date.now()}@example.com`)
  await page.getByRole('link', { name: 'Exchange accounts' }).click()
  await page.getByLabel('Venue').selectOption('binance')
  await page.getByLabel('Label').fill('main')
  await page.getByLabel('API key').fill(KEY)
  await page.getByLabel('API secret').fill(SECRET)
  await page.getByRole('button', { name: 'Add credential' }).click()
  // The form clears itself when the first one is stored: wait for that before typing more.
  await expect(page.getByRole('row').filter({ hasText: 'main' })).toBeVisible()
  await expect(page.getByLabel('Label')).toHaveValue('')
  await page.getByLabel('Label').fill('typo')
  await page.getByLabel('API key').fill(KEY)
  await page.getByLabel('API secret').fill('not-the-secret')
  await page.getByRole('button', { name: 'Add credential' }).click()
  const main = page.getByRole('row').filter({ hasText: 'main' })
  await main.getByRole('button', { name: 'Test connection' }).click()
  await expect(main.getByRole('status')).toContainText('connected')
  await expect(main.getByRole('status')).toContainText('trade')
  await expect(main.getByRole('status')).toContainText('no withdraw')
  const typo = page.getByRole('row').filter({ hasText: 'typo' })
  await typo.getByRole('button', { name: 'Test connection' }).click()
  await expect(typo.getByRole('status')).toContainText('Connection failed')
  await expect(typo.getByRole('status')).toContainText('-1022')
  expect(await page.content()).not.toContain(SECRET)
  await page.screenshot({ path: 'test-results/screenshots/exchange-accounts.png', fullPage: true })
  expect(errors).toEqual([])
})
