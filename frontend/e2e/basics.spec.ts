// The basics of every main page, as a Lighthouse-style check: no console errors, no
// horizontal scrolling of the page at phone width (wide tables scroll inside their own box),
// and the main action reachable with the keyboard alone.
import { expect, test, type Page } from '@playwright/test'
import { demoLogin, signIn, watchErrors } from './helpers'

// `link`: the main action is a link (a page that shows rather than makes something).
const PAGES: { path: string; action: string; fill?: string; link?: boolean }[] = [
  { path: 'datasets', action: 'Generate' },
  // The button is enabled once the strategy has a name (typed with the keyboard).
  { path: 'strategies/new', action: 'Create strategy', fill: 'Name' },
  { path: 'backtests/new', action: 'Run backtest' },
  { path: 'optimizations/new', action: 'Run optimisation' },
  { path: 'walkforwards/new', action: 'Run walk-forward' },
  { path: 'portfolio', action: 'New paper bot', link: true },
  { path: 'bots/new', action: 'Create and start' },
  { path: 'members', action: 'Create invitation link' },
  { path: 'credentials', action: 'Add credential' },
]

async function workspaceUrl(page: Page): Promise<string> {
  await expect(page).toHaveURL(/\/w\/[^/]+\//)
  return new URL(page.url()).pathname.split('/').slice(0, 3).join('/')
}

/** Presses Tab until the focused element is the button (or link) named `name` (at most 80 times). */
async function tabTo(page: Page, name: string, tag = 'BUTTON'): Promise<boolean> {
  for (let i = 0; i < 80; i++) {
    await page.keyboard.press('Tab')
    const focused = await page.evaluate((tag) => {
      const el = document.activeElement as HTMLElement | null
      return el && el.tagName === tag ? (el.textContent ?? '').trim() : ''
    }, tag)
    if (focused === name) return true
  }
  return false
}

test('every main page: no console errors, keyboard reaches the main action, fits a phone', async ({ page }) => {
  const errors = watchErrors(page)
  const { email, password } = demoLogin()
  await signIn(page, email, password)
  const base = await workspaceUrl(page)
  for (const { path, action, fill, link } of PAGES) {
    await page.setViewportSize({ width: 1280, height: 800 })
    await page.goto(`${base}/${path}`)
    await expect(page.getByRole(link ? 'link' : 'button', { name: action }).first()).toBeVisible()
    await page.locator('body').click({ position: { x: 1, y: 1 } })
    if (fill) {
      await page.getByLabel(fill).focus()
      await page.keyboard.type('keyboard only')
    }
    expect(await tabTo(page, action, link ? 'A' : 'BUTTON'), `${path}: Tab reaches "${action}"`).toBe(true)
    await page.setViewportSize({ width: 375, height: 800 })
    await page.waitForTimeout(100)
    const { overflow, culprits } = await page.evaluate(() => ({
      overflow: document.documentElement.scrollWidth - window.innerWidth,
      culprits: [...document.querySelectorAll('body *')]
        .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.parentElement?.closest('.overflow-x-auto'))
        .slice(0, 5)
        .map((e) => `${e.tagName}.${String((e as HTMLElement).className).slice(0, 50)}`),
    }))
    expect(overflow, `${path}: the page scrolls sideways at 375 px (${culprits.join(' | ')})`).toBeLessThanOrEqual(1)
  }
  expect(errors).toEqual([])
})
