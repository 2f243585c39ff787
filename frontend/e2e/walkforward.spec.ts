// Walk-forward analysis end to end, against the real server and its demo workspace.
import { expect, test, type Page } from '@playwright/test'
import { demoLogin, signIn, watchErrors } from './helpers'

const SHOTS = 'test-results/screenshots'

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

test('run a walk-forward from the form and read its verdict and windows', async ({ page }) => {
  const errors = watchErrors(page)
  const { email, password } = demoLogin()
  await signIn(page, email, password)
  await openNav(page, 'Walk-forward')
  await expect(page.getByRole('heading', { name: 'Walk-forward analyses' })).toBeVisible()
  await page.getByRole('link', { name: 'New walk-forward' }).first().click()
  await expect(page.getByRole('button', { name: 'Run walk-forward' })).toBeVisible()
  await page.setViewportSize({ width: 375, height: 800 })
  await page.waitForTimeout(100)
  await expect.poll(() => page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(376)
  await page.setViewportSize({ width: 1280, height: 800 })

  await page.getByLabel('Strategy').selectOption({ label: 'SMA crossover' })
  await pickDemoDataset(page)
  await expect(page.getByLabel('fast')).toHaveValue('5..50:5')
  await page.getByLabel('fast').fill('5..15:5')
  await page.getByLabel('slow').fill('30..50:20')
  await page.getByLabel('Method').selectOption('grid')
  await expect(page.getByText('6 trials')).toBeVisible()

  // A server-side error shows inline, and the form stays.
  const windows = page.getByRole('spinbutton', { name: /^Windows/ })
  await page.getByLabel('fast').fill('abc')
  await page.getByRole('button', { name: 'Run walk-forward' }).click()
  await expect(page.getByRole('alert')).toContainText('ranges.fast')
  await expect(page).toHaveURL(/\/walkforwards\/new$/)
  await page.getByLabel('fast').fill('5..15:5')

  await windows.fill('3')
  await page.getByRole('button', { name: 'Run walk-forward' }).click()
  await expect(page).toHaveURL(/\/walkforwards\/[0-9a-f-]{36}$/)
  await expect(page.getByText('succeeded', { exact: true })).toBeVisible({ timeout: 45_000 })

  const verdict = page.getByRole('region', { name: 'Verdict' })
  await expect(verdict.getByRole('heading')).toHaveText(/Holds up out of sample|Loses most of its edge out of sample|Fails out of sample/)
  await expect(verdict).toContainText('heuristic')
  await expect(page.locator('dl[aria-label="Metrics"]')).toContainText('Total return')
  await expect(page.getByTestId('equity-chart').locator('svg path.recharts-curve').first()).toBeVisible()
  await expect(page.getByTestId('wf-objective-chart').locator('svg .recharts-bar-rectangle').first()).toBeVisible()
  const rows = page.getByRole('table', { name: 'Windows' }).locator('tbody tr')
  await expect(rows).toHaveCount(3)
  await expect(rows.first().locator('[data-col="params"]')).toHaveText(/^fast=\d+, slow=\d+$/)
  await expect(rows.first().locator('[data-col="oos-dates"]')).toHaveText(/^\d{4}-\d\d-\d\d – \d{4}-\d\d-\d\d$/)

  await page.mouse.move(0, 0) // no tooltip in the picture
  await page.screenshot({ path: `${SHOTS}/walkforward.png`, fullPage: true })

  // At phone width the page does not scroll sideways (the windows table scrolls in its box).
  await page.setViewportSize({ width: 375, height: 800 })
  await expect(page.getByTestId('equity-chart').locator('svg path.recharts-curve').first()).toBeVisible()
  await page.waitForTimeout(100)
  await expect.poll(() => page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(376)
  await page.setViewportSize({ width: 1280, height: 800 })

  // The list shows it with its efficiency.
  await openNav(page, 'Walk-forward')
  const row = page.getByRole('row').filter({ hasText: 'SMA crossover' }).first()
  await expect(row).toContainText('succeeded')
  await expect(row).toContainText(/[+-]?\d+\.\d\d %/)
  expect(errors.filter((e) => !/status of 400/.test(e))).toEqual([]) // the rejected range above
})

test('an optimisation opens the walk-forward form with its ranges', async ({ page }) => {
  const errors = watchErrors(page)
  const { email, password } = demoLogin()
  await signIn(page, email, password)
  await openNav(page, 'Optimisations')
  await page.getByRole('link', { name: 'New optimisation' }).first().click()
  await page.getByLabel('Strategy').selectOption({ label: 'SMA crossover' })
  await pickDemoDataset(page)
  await page.getByLabel('fast').fill('5..15:5')
  await page.getByLabel('slow').fill('30..50:20')
  await page.getByLabel('Objective').selectOption('sortino')
  await page.getByRole('button', { name: 'Run optimisation' }).click()
  await expect(page).toHaveURL(/\/optimizations\/[0-9a-f-]{36}$/)

  await page.getByRole('link', { name: 'Walk-forward with these ranges' }).click()
  await expect(page).toHaveURL(/\/walkforwards\/new\?/)
  await expect(page.getByLabel('Strategy')).toHaveValue(/^s:/)
  await expect(page.getByLabel('fast')).toHaveValue('5..15:5')
  await expect(page.getByLabel('slow')).toHaveValue('30..50:20')
  await expect(page.getByLabel('Objective')).toHaveValue('sortino')
  await expect(page.getByText('6 trials')).toBeVisible()
  expect(errors).toEqual([])
})
