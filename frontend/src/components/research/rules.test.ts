import { describe, expect, it } from 'vitest'
import { parseRule, printRule, splitTopLevel } from './rules'
import { lineOfPath, minimalSpec, setRule } from './spec'

describe('parseRule / printRule', () => {
  it('reads a cross', () => {
    expect(parseRule('crossover(fast_ma, slow_ma)')).toEqual({
      joiner: 'and',
      conditions: [{ kind: 'cmp', left: 'fast_ma', op: 'crossover', right: 'slow_ma' }],
    })
    expect(parseRule('CrossUnder( a ,b )').conditions[0]).toEqual({ kind: 'cmp', left: 'a', op: 'crossunder', right: 'b' })
  })

  it('reads comparisons joined by and', () => {
    const m = parseRule('rsi < 30 and close > sma200')
    expect(m.joiner).toBe('and')
    expect(m.conditions).toEqual([
      { kind: 'cmp', left: 'rsi', op: '<', right: '30' },
      { kind: 'cmp', left: 'close', op: '>', right: 'sma200' },
    ])
  })

  it('reads or, parameters, negative and decimal numbers', () => {
    const m = parseRule('r > $overbought or close <= -1.5')
    expect(m.joiner).toBe('or')
    expect(m.conditions).toEqual([
      { kind: 'cmp', left: 'r', op: '>', right: '$overbought' },
      { kind: 'cmp', left: 'close', op: '<=', right: '-1.5' },
    ])
  })

  it.each([
    'crossover(fast_ma, slow_ma)',
    'crossunder(fast_ma, slow_ma)',
    'r < $oversold',
    'rsi < 30 and close > sma200',
    'a >= 1 or b <= 2 or crossover(a, b)',
    'close > highest(high, $n)[1] and volume > sma(volume, 20)',
    'crossover(r, $level) and trend_up',
    'bar_index % $every == 0',
    'position.pnl_pct >= $take_profit',
    'a > b and c < d or e > f',
    'not (rsi(close, 14) > 70)',
    'close@4h > ema(close, 50)@4h',
  ])('round-trips %s', (rule) => {
    expect(printRule(parseRule(rule))).toBe(rule)
  })

  it('keeps what it cannot represent as custom text, verbatim', () => {
    const m = parseRule('close > highest(high, $n)[1] and volume > sma(volume, 20)')
    expect(m.conditions).toEqual([
      { kind: 'custom', text: 'close > highest(high, $n)[1]' },
      { kind: 'custom', text: 'volume > sma(volume, 20)' },
    ])
    expect(parseRule('a > b and c < d or e > f').conditions).toEqual([{ kind: 'custom', text: 'a > b and c < d or e > f' }])
    expect(parseRule('crossover(r, $level) and trend_up').conditions[1]).toEqual({ kind: 'custom', text: 'trend_up' })
  })

  it('does not split inside parentheses or identifiers', () => {
    expect(splitTopLevel('max(a and b, c) > 1 and brand > 2').map((p) => p.text.trim())).toEqual(['max(a and b, c) > 1', 'brand > 2'])
    expect(splitTopLevel('sandor > 1').length).toBe(1)
  })

  it('normalises && and || to and / or', () => {
    expect(printRule(parseRule('a > 1 && b < 2'))).toBe('a > 1 and b < 2')
  })

  it('prints edits and empty rules', () => {
    expect(printRule({ joiner: 'and', conditions: [] })).toBe('')
    expect(
      printRule({
        joiner: 'or',
        conditions: [
          { kind: 'cmp', left: 'fast_ma', op: 'crossover', right: 'slow_ma' },
          { kind: 'cmp', left: 'close', op: '>', right: '$level' },
        ],
      }),
    ).toBe('crossover(fast_ma, slow_ma) or close > $level')
    // a custom `x or y` inside an AND list is parenthesised so its meaning holds
    expect(
      printRule({
        joiner: 'and',
        conditions: [
          { kind: 'cmp', left: 'a', op: '>', right: '1' },
          { kind: 'custom', text: 'b > 2 or c > 3' },
        ],
      }),
    ).toBe('a > 1 and (b > 2 or c > 3)')
    expect(parseRule('   ')).toEqual({ joiner: 'and', conditions: [] })
  })
})

describe('spec helpers', () => {
  it('sets and removes rules', () => {
    const s = minimalSpec('x')
    expect(setRule(s, ['entry', 'short'], 'a < b').entry).toEqual({ long: 'crossover(fast_ma, slow_ma)', short: 'a < b' })
    const noExit = setRule(s, ['exit', 'long'], '')
    expect('exit' in noExit).toBe(false)
  })

  it('finds the line of a path in the text', () => {
    const text = JSON.stringify({ version: 1, name: 'x', exit: { long: 'a' }, entry: { short: 'b', long: 'c' } }, null, 2)
    const lines = text.split('\n')
    const at = lineOfPath(text, 'entry.long')!
    expect(lines[at - 1]).toContain('"long": "c"')
    expect(lineOfPath(text, 'nothing.here')).toBeNull()
  })
})

describe('problemLine', () => {
  it('maps a rule error to the line of its key plus the line inside the rule', async () => {
    const { problemLine } = await import('./SpecJsonEditor')
    const text = '{\n  "version": 1,\n  "entry": {\n    "long": "close > clsoe"\n  }\n}'
    expect(problemLine(text, { path: 'entry.long', line: 1, column: 9, message: "unknown name 'clsoe'" })).toBe(4)
    expect(problemLine(text, { path: '', line: 2, column: 3, message: 'bad' })).toBe(2)
  })
})
