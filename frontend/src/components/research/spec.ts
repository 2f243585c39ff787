// Helpers over a strategy spec document (see docs/strategies.md), shared by the visual
// builder, the JSON editor and the strategy pages.

export type Spec = Record<string, unknown>

export type ParamDef = {
  int?: [number, number]
  float?: [number, number]
  choice?: number[]
  step?: number
  default?: number
  [k: string]: unknown
}

export const RULE_SLOTS = [
  ['entry', 'long'],
  ['entry', 'short'],
  ['exit', 'long'],
  ['exit', 'short'],
] as const

export type RuleSlot = (typeof RULE_SLOTS)[number]

/** A small valid spec to start from: one SMA cross, long only. */
export function minimalSpec(name: string): Spec {
  return {
    version: 1,
    name: name || 'my_strategy',
    parameters: {
      fast: { int: [2, 50], step: 1, default: 10 },
      slow: { int: [10, 200], step: 10, default: 30 },
    },
    indicators: { fast_ma: 'sma(close, $fast)', slow_ma: 'sma(close, $slow)' },
    entry: { long: 'crossover(fast_ma, slow_ma)' },
    exit: { long: 'crossunder(fast_ma, slow_ma)' },
  }
}

export function asRecord(v: unknown): Record<string, unknown> {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {}
}

export function getRule(spec: Spec, [side, dir]: RuleSlot): string {
  const v = asRecord(spec[side])[dir]
  return typeof v === 'string' ? v : ''
}

/** The spec with one rule replaced; an empty rule removes the key (a missing rule never fires). */
export function setRule(spec: Spec, [side, dir]: RuleSlot, rule: string): Spec {
  const group = { ...asRecord(spec[side]) }
  if (rule.trim()) group[dir] = rule
  else delete group[dir]
  const next = { ...spec }
  if (Object.keys(group).length) next[side] = group
  else delete next[side]
  return next
}

/** Parses JSON text as a spec object, or null when it is not a JSON object. */
export function tryParseSpec(text: string): Spec | null {
  try {
    const v = JSON.parse(text)
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Spec) : null
  } catch {
    return null
  }
}

export function specText(spec: unknown): string {
  return JSON.stringify(spec, null, 2)
}

/**
 * The 1-based line of a JSON path (`entry.long`, `parameters.fast`) in the spec's text, found
 * by looking for each key in turn; null when it cannot be found.
 */
export function lineOfPath(text: string, path: string): number | null {
  if (!path) return null
  let from = 0
  let at = -1
  for (const seg of path.split('.')) {
    if (/^\d+$/.test(seg)) continue // array index: stay at the array's key
    const re = new RegExp(`"${seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"\\s*:`, 'g')
    re.lastIndex = from
    const m = re.exec(text)
    if (!m) break
    at = m.index
    from = m.index + m[0].length
  }
  if (at < 0) return null
  return text.slice(0, at).split('\n').length
}
