// Numbers for traders: prices at instrument precision, percentages with a sign, money with
// its currency, times in UTC.

/** Decimal places that show a price's precision (more for small prices). */
export function priceDigits(price: number): number {
  const a = Math.abs(price)
  if (a >= 1000) return 2
  if (a >= 1) return 4
  if (a >= 0.01) return 6
  return 8
}

export function formatPrice(price: number | null | undefined, digits?: number): string {
  if (price === null || price === undefined || !Number.isFinite(price)) return '—'
  const d = digits ?? priceDigits(price)
  return price.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d })
}

/** `12.34 %` from a percentage value (already ×100). */
export function formatPct(pct: number | null | undefined, digits = 2, signed = false): string {
  if (pct === null || pct === undefined || !Number.isFinite(pct)) return '—'
  const s = pct.toFixed(digits)
  return `${signed && pct > 0 ? '+' : ''}${s} %`
}

/** Money with its currency code: `10,234.50 USDT`. Accepts decimal strings (exact). */
export function formatMoney(value: number | string | null | undefined, currency = '', digits = 2): string {
  if (value === null || value === undefined || value === '') return '—'
  const n = typeof value === 'string' ? Number(value) : value
  if (!Number.isFinite(n)) return String(value)
  const text = n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
  return currency ? `${text} ${currency}` : text
}

export function formatNumber(n: number | null | undefined, digits = 2): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—'
  return n.toLocaleString('en-US', { maximumFractionDigits: digits })
}

/** UTC date-time from ms since the epoch: `2025-03-01 14:00`. */
export function formatTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—'
  return new Date(ms).toISOString().slice(0, 16).replace('T', ' ')
}

export function formatDate(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—'
  return new Date(ms).toISOString().slice(0, 10)
}

/** The quote currency of `BASE/QUOTE`, or '' for a plain ticker. */
export function quoteOf(symbol: string): string {
  const i = symbol.indexOf('/')
  return i >= 0 ? symbol.slice(i + 1) : ''
}
