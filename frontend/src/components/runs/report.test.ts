import { rangeCount } from '../../pages/runs/NewOptimization'
import { tradeMarkers } from './CandleChart'
import { trades } from './fixtures'
import { nsToMs, paramDefault, paramRange, pricePrecision, specParams, tradeReturnPct } from './report'

describe('report helpers', () => {
  it('reads spec parameters', () => {
    const spec = { parameters: { slow: { int: [20, 200], step: 10, default: 30 }, fast: { int: [5, 50], step: 5 }, ma: { choice: [10, 20] }, w: { float: [1, 3] } } }
    const ps = specParams(spec)
    expect(ps.map(([k]) => k)).toEqual(['fast', 'ma', 'slow', 'w'])
    expect(ps.map(([, p]) => paramDefault(p))).toEqual([5, 10, 30, 1])
    expect(ps.map(([, p]) => paramRange(p))).toEqual(['5..50:5', '10,20', '20..200:10', '1..3'])
    expect(specParams(null)).toEqual([])
  })

  it('counts the values of a range', () => {
    expect(rangeCount('5..50:5')).toBe(10)
    expect(rangeCount('30..60:10')).toBe(4)
    expect(rangeCount('0.5..2:0.5')).toBe(4)
    expect(rangeCount('10,20,50')).toBe(3)
    expect(rangeCount('abc')).toBeNull()
  })

  it('converts report times and prices', () => {
    expect(nsToMs(1704682800000000000)).toBe(1704682800000)
    expect(pricePrecision(trades)).toBe(3)
    expect(tradeReturnPct(trades[0])).toBeCloseTo(-1.5007, 3)
  })

  it('makes sorted chart markers in UTC seconds within the candles', () => {
    const m = tradeMarkers(trades, 1704682800000, 1705000000000)
    expect(m.map((x) => x.time)).toEqual([1704682800, 1704700800, 1704704400, 1704938400, 1705000000])
    expect(m[0]).toMatchObject({ shape: 'arrowUp', position: 'belowBar', text: 'Long' })
    expect(m[4]).toMatchObject({ shape: 'arrowDown', position: 'aboveBar', text: 'Short' })
    expect(m[1]).toMatchObject({ shape: 'circle', text: 'Exit' })
  })
})
