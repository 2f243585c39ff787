// Paper bots end to end, against the real server and its demo workspace: create one from the
// form, watch it trade live over the websocket (no reloads), pause it, see it in the list,
// stop it, and find it in the portfolio.
import { expect, test, type Page } from '@playwright/test'
import { demoLogin, signIn, watchErrors } from './helpers'

const SHOTS = 'test-results/screenshots'

async function openNav(page: Page, name: string) {
  const nav = page.getByRole('navigation', { name: 'Main' })
  if (!(await nav.isVisible())) await page.getByRole('button', { name: 'Menu' }).click()
  await nav.getByRole('link', { name, exact: true }).click()
}

test('a paper bot trades live, pauses and stops', async ({ page }) => {
  test.setTimeout(120_000)
  const errors = watchErrors(page)
  const { email, password } = demoLogin()
  await signIn(page, email, password)
  await openNav(page, 'Bots')
  await expect(page.getByRole('heading', { name: 'Bots' })).toBeVisible()
  await page.getByRole('link', { name: 'New paper bot' }).first().click()

  const name = `e2e paper bot ${Date.now()}`
  await page.getByLabel('Name').fill(name)
  await page.getByLabel('Strategy').selectOption({ label: 'SMA crossover' })
  const dataset = page.getByLabel('Dataset')
  await dataset.selectOption((await dataset.locator('option', { hasText: 'Demo BTC/USDT 1h' }).getAttribute('value'))!)
  await expect(page.getByLabel('fast')).toHaveValue('10')
  await page.getByLabel('Speed (bars per second)').fill('50')
  await page.getByLabel('Paced bars').fill('300')
  await page.getByRole('button', { name: 'Create and start' }).click()

  // The bot's page: everything below arrives over the websocket (the page is never reloaded).
  await expect(page).toHaveURL(/\/bots\/[0-9a-f-]{36}$/, { timeout: 15_000 })
  await expect(page.getByRole('heading', { name })).toBeVisible()
  const state = page.getByTestId('bot-state')
  await expect(state).toHaveText('running', { timeout: 30_000 })
  await expect.poll(async () => Number(await page.getByTestId('bot-fills').innerText()), { timeout: 60_000 }).toBeGreaterThanOrEqual(1)
  await expect(page.getByTestId('fills-table').locator('tbody tr').first()).toBeVisible()
  await expect(page.getByTestId('bot-pnl')).toHaveText(/^[+-]?\d[\d,]*\.\d{2}$/)
  // At 50 bars a second the 300 paced bars take 6 s: pause before the replay ends.
  await page.getByRole('button', { name: 'Pause' }).click()
  await expect(state).toHaveText('paused', { timeout: 15_000 })
  await expect(page.getByRole('button', { name: 'Resume' })).toBeVisible()

  const canvas = page.getByTestId('bot-candle-chart').locator('canvas').first()
  await expect(canvas).toBeVisible()
  expect((await canvas.boundingBox())!.width).toBeGreaterThan(300)
  await expect(page.getByTestId('bot-equity-chart').locator('svg path.recharts-curve').first()).toBeVisible()
  await expect(page.getByRole('list', { name: 'Event log' })).toContainText('state: paused')
  const progress = await page.getByTestId('bot-progress').innerText()
  expect(progress).toMatch(/^[\d,]+ \/ 17,520$/)
  await page.screenshot({ path: `${SHOTS}/bot-detail.png`, fullPage: true })

  // Phone width: nothing wider than the screen (tables scroll inside their own box).
  await page.setViewportSize({ width: 375, height: 800 })
  await expect.poll(() => page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(380)
  await page.screenshot({ path: `${SHOTS}/bot-detail-phone.png`, fullPage: true })
  await page.setViewportSize({ width: 1280, height: 800 })

  // The list shows it paused, with its numbers.
  await openNav(page, 'Bots')
  const row = page.getByRole('row').filter({ hasText: name })
  await expect(row).toContainText('paused')
  await expect(row).toContainText('BTC/USDT 1h')
  await expect(row).toContainText('paper · replay')
  await page.screenshot({ path: `${SHOTS}/bots-list.png`, fullPage: true })

  // Stop it (the demo workspace is shared by the other tests).
  await row.getByRole('button', { name: `Stop ${name}` }).click()
  await expect(row.getByRole('button', { name: `Start ${name}` })).toBeVisible({ timeout: 15_000 })
  await expect(row).toContainText('stopped')

  // The portfolio counts it with the paper bots and draws its PnL.
  await openNav(page, 'Portfolio')
  await expect(page.getByRole('heading', { name: 'Portfolio' })).toBeVisible()
  const paper = page.getByRole('region', { name: 'Paper bots' })
  await expect(paper.getByTestId('paper-pnl')).toHaveText(/^[+-]?\d[\d,]*\.\d{2}$/)
  expect(Number((await paper.getByTestId('paper-fills').innerText()).replace(/,/g, ''))).toBeGreaterThanOrEqual(1)
  expect(Number(await paper.getByTestId('paper-stopped').innerText())).toBeGreaterThanOrEqual(1)
  await expect(paper.getByTestId('paper-fees')).toHaveText(/^\d[\d,]*\.\d{2}$/)
  const chart = page.getByTestId('pnl-chart')
  await expect(chart).toContainText(name)
  await expect(chart.locator('svg path.recharts-rectangle').first()).toBeVisible() // its bar
  await expect(chart.locator('svg.recharts-surface')).toContainText('e2e paper bot') // its name on the axis
  if (Number(await paper.getByTestId('paper-positions').innerText()) > 0) {
    await expect(page.getByTestId('positions-table').getByRole('link', { name })).toBeVisible()
  } else {
    await expect(page.getByText('No bot holds a position.')).toBeVisible()
  }
  await page.screenshot({ path: `${SHOTS}/portfolio.png`, fullPage: true })
  await page.setViewportSize({ width: 375, height: 800 })
  await expect.poll(() => page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(380)
  await page.screenshot({ path: `${SHOTS}/portfolio-phone.png`, fullPage: true })
  await page.setViewportSize({ width: 1280, height: 800 })
  expect(errors).toEqual([])
})
