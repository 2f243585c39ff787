// The portfolio: every bot of the workspace added up from its stored summary. Paper and live
// bots are totalled apart (simulated money and real money are never added together).
import { summaryOf, type Bot } from './bots'
import { quoteOf } from './format'

export type Mode = 'paper' | 'live'

export type Totals = {
  bots: number
  /** Sum of `summary.pnl` (bots that never ran count 0). */
  pnl: number
  /** Starting or running. */
  running: number
  paused: number
  /** Stopped or finished. */
  stopped: number
  /** Killed (risk stop) or stopped on an error. */
  failed: number
  fills: number
  /** Sum of the fees (decimal strings added as numbers: for display only). */
  fees: number
  /** Bots holding a non-zero position. */
  openPositions: number
  /** The quote currency when every bot of the group shares one, else ''. */
  currency: string
}

export type Position = {
  bot: Bot
  mode: Mode
  symbol: string
  /** The position as the summary writes it (a decimal string). */
  position: string
  lastPrice: number | undefined
  /** position × last price (undefined without a last price). */
  value: number | undefined
  pnl: number | undefined
  currency: string
}

export const modeOf = (b: Pick<Bot, 'mode'>): Mode => (b.mode === 'live' ? 'live' : 'paper')

const num = (v: string | number | undefined): number => {
  const n = Number(v ?? 0)
  return Number.isFinite(n) ? n : 0
}

export function emptyTotals(): Totals {
  return { bots: 0, pnl: 0, running: 0, paused: 0, stopped: 0, failed: 0, fills: 0, fees: 0, openPositions: 0, currency: '' }
}

/** Totals of the paper bots and of the live bots, kept apart. */
export function portfolioTotals(bots: Bot[]): Record<Mode, Totals> {
  const out: Record<Mode, Totals> = { paper: emptyTotals(), live: emptyTotals() }
  const quotes: Record<Mode, Set<string>> = { paper: new Set(), live: new Set() }
  for (const b of bots) {
    const t = out[modeOf(b)]
    const s = summaryOf(b)
    t.bots += 1
    t.pnl += num(s.pnl)
    if (b.state === 'starting' || b.state === 'running') t.running += 1
    else if (b.state === 'paused') t.paused += 1
    else if (b.state === 'killed' || b.state === 'error') t.failed += 1
    else t.stopped += 1
    t.fills += num(s.fills)
    t.fees += num(s.fees)
    if (num(s.position) !== 0) t.openPositions += 1
    if (s.symbol) quotes[modeOf(b)].add(quoteOf(s.symbol))
  }
  for (const m of ['paper', 'live'] as const) {
    out[m].fees = Math.round(out[m].fees * 100) / 100
    out[m].currency = quotes[m].size === 1 ? [...quotes[m]][0] : ''
  }
  return out
}

/** Bots holding a position, the largest absolute value first (no last price: last). */
export function openPositions(bots: Bot[]): Position[] {
  const rows: Position[] = []
  for (const b of bots) {
    const s = summaryOf(b)
    const qty = num(s.position)
    if (qty === 0) continue
    const lastPrice = typeof s.last_price === 'number' && Number.isFinite(s.last_price) ? s.last_price : undefined
    const symbol = s.symbol ?? ''
    rows.push({
      bot: b,
      mode: modeOf(b),
      symbol,
      position: s.position ?? '',
      lastPrice,
      value: lastPrice === undefined ? undefined : qty * lastPrice,
      pnl: s.pnl,
      currency: quoteOf(symbol),
    })
  }
  const size = (p: Position) => (p.value === undefined ? -1 : Math.abs(p.value))
  return rows.sort((a, b) => size(b) - size(a) || a.bot.name.localeCompare(b.bot.name))
}

export type BotPnl = { id: string; name: string; mode: Mode; pnl: number; currency: string }

/** PnL of each bot that has run (has a PnL in its summary), largest first. */
export function pnlPerBot(bots: Bot[]): BotPnl[] {
  return bots
    .flatMap((b) => {
      const s = summaryOf(b)
      return typeof s.pnl === 'number' && Number.isFinite(s.pnl)
        ? [{ id: b.id, name: b.name, mode: modeOf(b), pnl: s.pnl, currency: quoteOf(s.symbol ?? '') }]
        : []
    })
    .sort((a, b) => b.pnl - a.pnl || a.name.localeCompare(b.name))
}
