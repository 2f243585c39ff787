// A bot's risk limits, as the new bot form and the bot page edit them: the fields, their
// checks, and short words for them (the event log's `settings` events).

/** A decimal number as typed (no sign, no exponent). */
export const NUM = /^\s*\d+(\.\d+)?\s*$|^\s*\.\d+\s*$/

/** The risk limits the forms offer: key, label, hint, whether a whole number. */
export const RISK_FIELDS = [
  ['max_order_notional', 'Max order value', 'quote currency', false],
  ['max_position_notional', 'Max position value', 'quote currency', false],
  ['max_open_orders', 'Max open orders', 'working at once', true],
  ['max_drawdown_pct', 'Max drawdown (%)', 'from the equity peak: flattens and stops the bot', false],
  ['max_daily_loss', 'Max daily loss', 'quote currency, UTC day: no new entries until the next day', false],
  ['price_band_pct', 'Price band (%)', "refuse an entry this far from the bar's close", false],
  ['max_total_exposure', 'Max total exposure', "quote currency: all this workspace's bots together", false],
] as const
export type RiskKey = (typeof RISK_FIELDS)[number][0]
export type RiskField = (typeof RISK_FIELDS)[number]

/** The bot's limits (`config.risk`): absent or null = no limit. */
export type RiskLimits = Partial<Record<RiskKey, number | null>>

/** Limits that only bots on a venue's live data use (not replayed datasets). */
export const LIVE_DATA_RISK: readonly RiskKey[] = ['max_daily_loss', 'price_band_pct', 'max_total_exposure']

/** Short words for each limit (one line about a change). */
export const RISK_SHORT: Record<RiskKey, string> = {
  max_order_notional: 'max order',
  max_position_notional: 'max position',
  max_open_orders: 'max open orders',
  max_drawdown_pct: 'max drawdown %',
  max_daily_loss: 'max daily loss',
  price_band_pct: 'price band %',
  max_total_exposure: 'max total exposure',
}

/** What is wrong with a risk limit's text ('' = fine, empty = no limit). */
export function riskProblem(key: RiskKey, text: string): string {
  const t = text.trim()
  if (!t) return ''
  if (!NUM.test(t)) return 'a number'
  const v = Number(t)
  if (key === 'max_open_orders') return Number.isInteger(v) && v >= 1 ? '' : 'a whole number, at least 1'
  if (!(v > 0)) return 'above 0'
  if (key === 'max_drawdown_pct' && v > 100) return 'at most 100 (percent)'
  return ''
}

/** A limit's value, when it has one (a finite number). */
export function limitOf(risk: unknown, key: RiskKey): number | undefined {
  if (!risk || typeof risk !== 'object') return undefined
  const v = (risk as Record<string, unknown>)[key]
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() ? Number(v) : NaN
  return Number.isFinite(n) ? n : undefined
}

/** A limit for reading. */
export function formatLimit(v: number): string {
  return v.toLocaleString('en-US', { maximumFractionDigits: 8 })
}

/** The limits a bot's page shows: all of them on live data; on a replay, the live-data ones only when set. */
export function riskFieldsFor(venue: string, risk: unknown): RiskField[] {
  return RISK_FIELDS.filter(([k]) => venue !== 'replay' || !LIVE_DATA_RISK.includes(k) || limitOf(risk, k) !== undefined)
}

/** One line about a set of limits: "max order 10, max open orders 3" (or "no limits"). */
export function describeLimits(risk: unknown): string {
  const parts = RISK_FIELDS.flatMap(([k]) => {
    const v = limitOf(risk, k)
    return v === undefined ? [] : [`${RISK_SHORT[k]} ${formatLimit(v)}`]
  })
  return parts.length ? parts.join(', ') : 'no limits'
}
