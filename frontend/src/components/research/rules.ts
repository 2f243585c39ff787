// The visual rule builder's model of a rule string, and the conversion both ways. A rule is
// a list of conditions joined by one connective (all `and` or all `or`); a condition is a
// comparison of two simple operands, a cross (`crossover(a, b)` / `crossunder(a, b)`), or
// custom text the builder cannot represent, kept verbatim so nothing is ever dropped.

export type Op = '>' | '<' | '>=' | '<=' | 'crossover' | 'crossunder'

export const OPS: { value: Op; label: string }[] = [
  { value: '>', label: '>' },
  { value: '<', label: '<' },
  { value: '>=', label: '>=' },
  { value: '<=', label: '<=' },
  { value: 'crossover', label: 'crosses above' },
  { value: 'crossunder', label: 'crosses below' },
]

export type Condition =
  | { kind: 'cmp'; left: string; op: Op; right: string }
  | { kind: 'custom'; text: string }

export type Joiner = 'and' | 'or'

export type RuleModel = { joiner: Joiner; conditions: Condition[] }

export const PRICE_FIELDS = ['close', 'open', 'high', 'low', 'volume'] as const

const OPERAND = String.raw`\$?[A-Za-z_][A-Za-z0-9_]*|-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?`
const CMP_RE = new RegExp(String.raw`^(${OPERAND})\s*(>=|<=|>|<)\s*(${OPERAND})$`)
const CROSS_RE = new RegExp(String.raw`^(crossover|crossunder)\s*\(\s*(${OPERAND})\s*,\s*(${OPERAND})\s*\)$`, 'i')
const OPERAND_RE = new RegExp(String.raw`^(?:${OPERAND})$`)

/** True when `s` is an operand the builder can show in its operand fields. */
export function isSimpleOperand(s: string): boolean {
  return OPERAND_RE.test(s.trim())
}

type Piece = { text: string; sep?: Joiner }

/**
 * Splits `text` at its top-level `and` / `or` (also `&&` / `||`), outside parentheses and
 * brackets. Each piece carries the connective that follows it.
 */
export function splitTopLevel(text: string): Piece[] {
  const pieces: Piece[] = []
  let depth = 0
  let start = 0
  let i = 0
  const push = (end: number, sep: Joiner | undefined, next: number) => {
    pieces.push({ text: text.slice(start, end), sep })
    start = next
    i = next
  }
  while (i < text.length) {
    const ch = text[i]
    if (ch === '(' || ch === '[') {
      depth++
      i++
    } else if (ch === ')' || ch === ']') {
      depth = Math.max(0, depth - 1)
      i++
    } else if (depth === 0 && (text.startsWith('&&', i) || text.startsWith('||', i))) {
      push(i, ch === '&' ? 'and' : 'or', i + 2)
    } else if (/[A-Za-z0-9_.$@]/.test(ch)) {
      let j = i
      while (j < text.length && /[A-Za-z0-9_.$@]/.test(text[j])) j++
      const word = text.slice(i, j).toLowerCase()
      if (depth === 0 && (word === 'and' || word === 'or')) push(i, word, j)
      else i = j
    } else {
      i++
    }
  }
  pieces.push({ text: text.slice(start) })
  return pieces
}

/** Reads one condition; anything that is not a simple comparison or cross stays custom. */
export function parseCondition(text: string): Condition {
  const t = text.trim()
  const cross = CROSS_RE.exec(t)
  if (cross) return { kind: 'cmp', left: cross[2], op: cross[1].toLowerCase() as Op, right: cross[3] }
  const cmp = CMP_RE.exec(t)
  if (cmp) return { kind: 'cmp', left: cmp[1], op: cmp[2] as Op, right: cmp[3] }
  return { kind: 'custom', text: t }
}

/** Reads a rule string into the builder's model. Mixed `and`/`or` stays one custom condition. */
export function parseRule(rule: string | undefined | null): RuleModel {
  const text = (rule ?? '').trim()
  if (!text) return { joiner: 'and', conditions: [] }
  const pieces = splitTopLevel(text)
  const seps = new Set(pieces.map((p) => p.sep).filter(Boolean))
  if (seps.size > 1 || pieces.some((p) => !p.text.trim())) {
    return { joiner: 'and', conditions: [{ kind: 'custom', text }] }
  }
  const joiner = (pieces[0].sep ?? 'and') as Joiner
  return { joiner, conditions: pieces.map((p) => parseCondition(p.text)) }
}

/** Writes one condition as rule text. */
export function printCondition(c: Condition): string {
  if (c.kind === 'custom') return c.text.trim()
  const left = c.left.trim()
  const right = c.right.trim()
  if (c.op === 'crossover' || c.op === 'crossunder') return `${c.op}(${left}, ${right})`
  return `${left} ${c.op} ${right}`
}

/** Writes the model as a rule string ('' for no conditions). */
export function printRule(m: RuleModel): string {
  const parts = m.conditions.map(printCondition).filter((s) => s !== '')
  if (parts.length <= 1) return parts[0] ?? ''
  return parts
    .map((p) => (splitTopLevel(p).length > 1 ? `(${p})` : p)) // keep custom `a or b` inside an AND list intact
    .join(` ${m.joiner} `)
}

/** A condition to start from: the first two names crossing, or `close > 0`. */
export function newCondition(names: string[]): Condition {
  if (names.length >= 2) return { kind: 'cmp', left: names[0], op: 'crossover', right: names[1] }
  return { kind: 'cmp', left: names[0] ?? 'close', op: '>', right: '0' }
}
