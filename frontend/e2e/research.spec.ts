// End-to-end tests of the research pages against the real `skeet serve` (see
// playwright.config.ts): strategies with the visual builder, inviting a viewer, and the
// demo dataset's candle chart.
import { expect, test, type Page } from '@playwright/test'
import { demoLogin, signIn, signUp, watchErrors } from './helpers'

const shots = 'test-results/screenshots'
const unique = () => `${Date.now()}-${Math.floor(Math.random() * 1e6)}`

async function createBlankStrategy(page: Page, name: string) {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Strategies' }).click()
  await page.getByRole('link', { name: 'New strategy' }).click()
  await page.getByLabel('Name').fill(name)
  await page.getByLabel('Start from').selectOption('__blank__')
  await page.getByRole('button', { name: 'Create strategy' }).click()
  await expect(page.getByTestId('spec-builder')).toBeVisible()
}

test('create a strategy with the visual builder', async ({ page }) => {
  const errors = watchErrors(page)
  await signUp(page, `builder-${unique()}@example.com`)
  await createBlankStrategy(page, 'Builder cross')

  // the blank spec's rule is read into the builder
  await expect(page.getByLabel('entry.long condition 1 operator')).toHaveValue('crossover')
  await page.getByRole('button', { name: 'Add condition to entry.long' }).click()
  await page.getByLabel('entry.long condition 2 left operand').fill('close')
  await page.getByLabel('entry.long condition 2 operator').selectOption('>')
  await page.getByLabel('entry.long condition 2 right operand').fill('slow_ma')
  await expect(page.getByLabel('entry.long as text')).toHaveText('crossover(fast_ma, slow_ma) and close > slow_ma')

  // the JSON editor shows the same rule, and the server says it is valid
  const json = page.getByLabel('Spec JSON')
  await expect(json).toHaveValue(/"long": "crossover\(fast_ma, slow_ma\) and close > slow_ma"/)
  await expect(page.getByTestId('spec-valid')).toContainText('warm-up')
  await page.screenshot({ path: `${shots}/strategy-builder.png`, fullPage: true })

  await page.getByRole('button', { name: 'Save as v2' }).click()
  await expect(page.getByRole('button', { name: /^v2 · / })).toBeVisible()
  await expect(page.getByRole('button', { name: 'Save as v3' })).toBeDisabled()
  await expect(page.getByLabel('Spec JSON')).toHaveValue(/"long": "crossover\(fast_ma, slow_ma\) and close > slow_ma"/)

  // a JSON error is shown with its place and the line is marked
  const good = await json.inputValue()
  await json.fill(good.replace('close > slow_ma', 'close > slwo_ma'))
  await expect(page.getByTestId('spec-errors')).toContainText("unknown name 'slwo_ma'")
  await expect(page.getByTestId('spec-errors')).toContainText('entry.long')
  await expect(page.locator('[data-error-line]')).toHaveCount(1)
  await expect(page.getByRole('button', { name: 'Save as v3' })).toBeDisabled()
  await page.getByRole('button', { name: 'Go to line 3' }).click()
  await expect(page.locator('[data-error-line="3"]')).toBeInViewport()
  await page.screenshot({ path: `${shots}/strategy-json-error.png`, fullPage: true })
  await page.getByRole('button', { name: 'Discard changes' }).click()

  // the old version is viewable read-only
  await page.getByRole('button', { name: /^v1 · / }).click()
  await expect(page.getByTestId('old-version')).toContainText('"long": "crossover(fast_ma, slow_ma)"')
  await page.getByRole('button', { name: 'Back to the editor' }).click()

  // it is in the list with its latest version
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Strategies' }).click()
  const row = page.getByRole('row', { name: /Builder cross/ })
  await expect(row).toContainText('v2')
  await row.getByRole('link').click()
  await expect(page.getByLabel('entry.long condition 2 right operand')).toHaveValue('slow_ma')

  await page.setViewportSize({ width: 375, height: 800 })
  await expect(page.getByTestId('spec-builder')).toBeVisible()
  await page.screenshot({ path: `${shots}/strategy-375.png`, fullPage: true })
  expect(errors).toEqual([])
})

test('invite a member as viewer', async ({ browser }) => {
  const owner = await browser.newContext()
  const page = await owner.newPage()
  const errors = watchErrors(page)
  await signUp(page, `owner-${unique()}@example.com`)
  await createBlankStrategy(page, 'Shared cross')

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Members' }).click()
  await page.getByLabel('Invitee role').selectOption('viewer')
  await page.getByRole('button', { name: 'Create invitation link' }).click()
  const link = await page.getByLabel(/Invitation link/).inputValue()
  expect(link).toMatch(/\/invite\/[0-9a-f]+$/)
  await expect(page.getByRole('button', { name: /Withdraw viewer invitation/ })).toBeVisible()

  const guest = await browser.newContext()
  const gpage = await guest.newPage()
  const gerrors = watchErrors(gpage)
  await signUp(gpage, `viewer-${unique()}@example.com`)
  await gpage.goto(link)
  await expect(gpage).toHaveURL(/\/w\/[^/]+\/datasets$/)
  await expect(gpage.getByLabel('Workspace')).toContainText('(viewer)')
  await expect(gpage.getByTestId('read-only-note')).toBeVisible()
  await expect(gpage.getByRole('button', { name: 'Generate' })).toHaveCount(0)
  await expect(gpage.getByRole('button', { name: 'Upload' })).toHaveCount(0)

  await gpage.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Strategies' }).click()
  await expect(gpage.getByRole('link', { name: 'New strategy' })).toHaveCount(0)
  await gpage.getByRole('link', { name: 'Shared cross' }).click()
  await expect(gpage.getByTestId('spec-builder')).toBeVisible()
  await expect(gpage.getByRole('button', { name: /^Save/ })).toHaveCount(0)
  await expect(gpage.getByLabel('entry.long condition 1 left operand')).toBeDisabled()
  await expect(gpage.getByLabel('Spec JSON')).toHaveAttribute('readonly', '')
  await gpage.screenshot({ path: `${shots}/strategy-viewer.png`, fullPage: true })

  await gpage.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Members' }).click()
  await expect(gpage.getByTestId('read-only-note')).toContainText('Only owners')
  await expect(gpage.getByRole('button', { name: 'Create invitation link' })).toHaveCount(0)
  await expect(gpage.getByRole('combobox', { name: /^Role of/ })).toHaveCount(0)

  // the link was used up
  await gpage.goto(link)
  await expect(gpage.getByRole('alert')).toContainText(/invitation/i)

  // the owner sees the new member
  await page.reload()
  await expect(page.getByRole('row', { name: /viewer-/ })).toBeVisible()
  await expect(page.getByText('No pending invitations')).toBeVisible()
  await page.screenshot({ path: `${shots}/members.png`, fullPage: true })
  await owner.close()
  await guest.close()
  expect(errors).toEqual([])
  // the browser itself logs the refused second use of the link (HTTP 409); that one is expected
  expect(gerrors.filter((e) => !/status of 409/.test(e))).toEqual([])
})

test('demo dataset shows a candle chart', async ({ page }) => {
  const errors = watchErrors(page)
  const { email, password } = demoLogin()
  await signIn(page, email, password)
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Datasets' }).click()
  await page.getByRole('link', { name: 'Demo BTC/USDT 1h' }).click()
  const canvas = page.getByTestId('candle-chart').locator('canvas').first()
  await expect(canvas).toBeVisible()
  expect((await canvas.boundingBox())!.width).toBeGreaterThan(300)
  const box = (await page.getByTestId('candle-chart').boundingBox())!
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 3)
  await expect(page.getByTestId('candle-legend')).toContainText(/O [\d,]+\.\d{2}/)
  await expect(page.getByRole('button', { name: 'Delete dataset' })).toBeVisible()
  await page.screenshot({ path: `${shots}/dataset-chart.png`, fullPage: true })

  // generate a small series, see it listed, then delete it
  await page.getByRole('link', { name: 'Datasets', exact: true }).first().click()
  const gen = page.getByRole('form', { name: 'Generate synthetic bars' })
  await gen.getByLabel(/^Symbol/).fill('ETH/USDT')
  await gen.getByLabel('Timeframe').selectOption('4h')
  await gen.getByLabel(/^Bars/).fill('300')
  await gen.getByLabel('Model').selectOption('regime')
  await gen.getByLabel(/^Seed/).fill('7')
  await gen.getByRole('button', { name: 'Generate' }).click()
  const row = page.getByRole('row', { name: /ETH\/USDT 4h/ })
  await expect(row).toContainText('300')

  // a broken CSV: the server's message names the line
  const up = page.getByRole('form', { name: 'Upload a CSV' })
  await up.getByLabel(/CSV file/).setInputFiles({ name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from('time,open,high,low,close,volume\n2024-01-01,1,2,0.5,1.5,10\nbad,row\n') })
  await up.getByLabel(/^Symbol/).fill('BAD/USD')
  await up.getByRole('button', { name: 'Upload' }).click()
  await expect(up.getByRole('alert')).toContainText('line 3')
  await page.screenshot({ path: `${shots}/datasets.png`, fullPage: true })
  await page.setViewportSize({ width: 375, height: 800 })
  await page.screenshot({ path: `${shots}/datasets-375.png`, fullPage: true })
  await page.setViewportSize({ width: 1280, height: 800 })

  await row.getByRole('link').click()
  await expect(page.getByTestId('candle-chart').locator('canvas').first()).toBeVisible()
  page.once('dialog', (d) => d.accept())
  await page.getByRole('button', { name: 'Delete dataset' }).click()
  await expect(page.getByRole('link', { name: 'Demo BTC/USDT 1h' })).toBeVisible()
  await expect(page.getByRole('row', { name: /ETH\/USDT 4h/ })).toHaveCount(0)
  // the browser itself logs the refused upload (HTTP 400); that one is expected
  expect(errors.filter((e) => !/status of 400/.test(e))).toEqual([])
})
