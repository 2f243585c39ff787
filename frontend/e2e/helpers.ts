// Shared steps of the end-to-end tests.
import { expect, type Page } from '@playwright/test'
import { readFileSync } from 'node:fs'

/** The demo login printed on first start (kept in the data directory). */
export function demoLogin(): { email: string; password: string } {
  const port = process.env.E2E_PORT ?? '4173'
  const [email, password] = readFileSync(`test-results/e2e-data-${port}/demo-login.txt`, 'utf8').trim().split(/\s+/)
  return { email, password }
}

/** Signs up a new account through the UI and waits for the dashboard. */
export async function signUp(page: Page, email: string, password = 'e2e password 123') {
  await page.goto('/signup')
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign up' }).click()
  await expect(page.getByRole('navigation', { name: 'Main' })).toBeVisible()
}

/** Signs in through the UI. */
export async function signIn(page: Page, email: string, password: string) {
  await page.goto('/login')
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await expect(page.getByRole('navigation', { name: 'Main' })).toBeVisible()
}

/** Fails the test on any console error or uncaught page error. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = []
  page.on('pageerror', (e) => errors.push(String(e)))
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text())
  })
  return errors
}
