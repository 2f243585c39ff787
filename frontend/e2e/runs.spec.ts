// Backtests and optimisations end to end, against the real server and its demo workspace.
import { expect, test, type Page } from '@playwright/test'
import { demoLogin, signIn, watchErrors } from './helpers'

const SHOTS = 'test-results/screenshots'

/** Picks the demo dataset whatever else the workspace holds. */
async function pickDemoDataset(page: Page) {
  const select = page.getByLabel('Dataset')
  const value = await select.locator('option', { hasText: 'Demo BTC/USDT 1h' }).getAttribute('value')
  await select.selectOption(value!)
}

async function openNav(page: Page, name: string) {
  const nav = page.getByRole('navigation', { name: 'Main' })
  if (!(await nav.isVisible())) await page.getByRole('button', { name: 'Menu' }).click()
  await nav.getByRole('link', { name }).click()
}

test('run a backtest from the form and read its report', async ({ page }) => {
  const errors = watchErrors(page)
  const { email, password } = demoLogin()
  await signIn(page, email, password)
  await openNav(page, 'Backtests')
  await expect(page.getByRole('heading', { name: 'Backtests' })).toBeVisible()
  await page.getByRole('link', { name: 'New backtest' }).first().click()

  await page.getByLabel('Strategy').selectOption({ label: 'SMA crossover' })
  await pickDemoDataset(page)
  await expect(page.getByLabel('fast')).toHaveValue('10')
  await expect(page.getByLabel('slow')).toHaveValue('30')
  await page.getByLabel('Starting cash').fill('25000')
  await page.getByRole('button', { name: 'Run backtest' }).click()

  await expect(page).toHaveURL(/\/backtests\/[0-9a-f-]{36}$/)
  // Live state: queued/running with a progress bar, then succeeded (it may be quick).
  await expect(page.getByText(/queued|running|succeeded/).first()).toBeVisible()
  await expect(page.getByText('succeeded', { exact: true })).toBeVisible({ timeout: 30_000 })

  const metrics = page.getByRole('list', { name: 'Metrics' }).or(page.locator('dl[aria-label="Metrics"]'))
  await expect(metrics).toContainText('Total return')
  await expect(metrics).toContainText('USDT')
  await expect(page.getByTestId('equity-chart').locator('svg path.recharts-curve').first()).toBeVisible()
  await expect(page.getByTestId('drawdown-chart').locator('svg path.recharts-curve').first()).toBeVisible()
  const canvas = page.getByTestId('candle-chart').locator('canvas').first()
  await expect(canvas).toBeVisible()
  expect((await canvas.boundingBox())!.width).toBeGreaterThan(300)

  const table = page.getByRole('table', { name: 'Trades' })
  const rows = table.locator('tbody tr')
  await expect(rows.first()).toBeVisible()
  expect(await rows.count()).toBeGreaterThan(0)
  const before = await rows.first().innerText()
  const pnlHeader = table.getByRole('columnheader', { name: /PnL/ })
  await expect(pnlHeader).toHaveAttribute('aria-sort', 'none')
  await pnlHeader.getByRole('button').click()
  await expect(pnlHeader).toHaveAttribute('aria-sort', 'descending')
  await expect(rows.first()).not.toHaveText(before)
  const best = await rows.first().locator('[data-col="pnl"]').innerText()
  // Keyboard: the header button sorts the other way with Enter.
  await pnlHeader.getByRole('button').focus()
  await page.keyboard.press('Enter')
  await expect(pnlHeader).toHaveAttribute('aria-sort', 'ascending')
  await expect(rows.first().locator('[data-col="pnl"]')).not.toHaveText(best)
  expect(best).not.toContain('-')

  await page.screenshot({ path: `${SHOTS}/backtest-report.png`, fullPage: true })
  await page.setViewportSize({ width: 375, height: 800 })
  await expect(page.getByTestId('equity-chart').locator('svg path.recharts-curve').first()).toBeVisible()
  // Wide tables scroll inside their own box. Charts resize on the next frames after the
  // viewport changes, so wait for the layout to settle (it must, within the timeout).
  await expect.poll(() => page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(380)
  await page.screenshot({ path: `${SHOTS}/backtest-report-phone.png`, fullPage: true })

  // The list shows it with its return.
  await page.setViewportSize({ width: 1280, height: 800 })
  await openNav(page, 'Backtests')
  await expect(page.getByRole('row').filter({ hasText: 'SMA crossover' }).first()).toContainText('succeeded')
  expect(errors).toEqual([])
})

test('run a grid optimisation and read its heat map', async ({ page }) => {
  const errors = watchErrors(page)
  const { email, password } = demoLogin()
  await signIn(page, email, password)
  await openNav(page, 'Optimisations')
  await page.getByRole('link', { name: 'New optimisation' }).first().click()

  await page.getByLabel('Strategy').selectOption({ label: 'SMA crossover' })
  await pickDemoDataset(page)
  await expect(page.getByLabel('fast')).toHaveValue('5..50:5')
  await page.getByLabel('fast').fill('5..20:5')
  await page.getByLabel('slow').fill('30..60:10')
  await page.getByLabel('Method').selectOption('grid')
  await expect(page.getByText('16 trials')).toBeVisible()
  await page.getByRole('button', { name: 'Run optimisation' }).click()

  await expect(page).toHaveURL(/\/optimizations\/[0-9a-f-]{36}$/)
  await expect(page.getByText('succeeded', { exact: true })).toBeVisible({ timeout: 45_000 })
  const cells = page.getByTestId('heatmap-cell')
  await expect(cells.first()).toBeVisible()
  await expect(cells).toHaveCount(16)
  const bestCell = page.locator('[data-testid="heatmap-cell"][data-best="true"]')
  await expect(bestCell).toHaveCount(1)
  await expect(bestCell).toHaveAttribute('title', /\(best\)/)
  await expect(page.getByRole('table', { name: /Heat map of sharpe by fast and slow/ })).toBeVisible()
  await expect(page.getByText('Plateau ratio')).toBeVisible()
  await expect(page.getByText('Deflated Sharpe')).toBeVisible()

  const top = page.getByRole('table', { name: 'Top results' })
  await expect(top.locator('tbody tr').first()).toContainText('1')
  await top.getByRole('button', { name: /Trades/ }).click()
  await expect(top.getByRole('columnheader', { name: /Trades/ })).toHaveAttribute('aria-sort', 'descending')

  await bestCell.scrollIntoViewIfNeeded()
  await page.screenshot({ path: `${SHOTS}/optimization-heatmap.png`, fullPage: true })

  // The best parameters open the backtest form prefilled.
  const bestParams = await page.getByText(/^fast=\d+, slow=\d+$/).innerText()
  const [, fast, slow] = /fast=(\d+), slow=(\d+)/.exec(bestParams)!
  await page.getByRole('link', { name: 'Backtest these parameters' }).click()
  await expect(page).toHaveURL(/\/backtests\/new\?/)
  await expect(page.getByLabel('Strategy')).toHaveValue(/^s:/)
  await expect(page.getByLabel('fast')).toHaveValue(fast)
  await expect(page.getByLabel('slow')).toHaveValue(slow)
  expect(errors).toEqual([])
})
