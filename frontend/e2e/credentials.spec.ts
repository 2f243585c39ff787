// Exchange credentials in the browser: an owner adds one, sees it masked, and the secret is
// nowhere on the page afterwards (nor after a reload); then removes it. (Who may add and
// remove is tested at the API: crates/cli/tests/platform.rs.)
import { expect, test } from '@playwright/test'
import { demoLogin, signIn, watchErrors } from './helpers'

test('an owner adds a credential and only its masked key is ever shown', async ({ page }) => {
  const errors = watchErrors(page)
  const { email, password } = demoLogin()
  await signIn(page, email, password)
  await page.getByRole('link', { name: 'Exchange accounts' }).click()
  await expect(page.getByText('No credentials yet')).toBeVisible()
  await page.getByLabel('Venue').selectOption('kraken')
  await page.getByLabel('Label').fill('desk')
  await page.getByLabel('API key').fill('E2EKEYABCDEFGHIJ9876')
  await page.getByLabel('API secret').fill('E2E-SECRET-never-on-screen')
  await page.getByRole('button', { name: 'Add credential' }).click()
  await expect(page.getByRole('cell', { name: 'E2EK****9876' })).toBeVisible()
  await expect(page.getByLabel('API secret')).toHaveValue('')
  const html = await page.content()
  expect(html).not.toContain('E2E-SECRET-never-on-screen')
  expect(html).not.toContain('E2EKEYABCDEFGHIJ9876')
  await page.reload()
  await expect(page.getByRole('cell', { name: 'E2EK****9876' })).toBeVisible()
  expect(await page.content()).not.toContain('E2E-SECRET-never-on-screen')
  await page.screenshot({ path: 'test-results/screenshots/credentials.png', fullPage: true })
  page.once('dialog', (d) => void d.accept())
  await page.getByRole('button', { name: 'Remove' }).click()
  await expect(page.getByText('No credentials yet')).toBeVisible()
  expect(errors).toEqual([])
})
