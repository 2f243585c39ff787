import { render, screen, within } from '@testing-library/react'
import { metrics } from './fixtures'
import { verdictOf, thin, type WalkForwardReport, type WalkForwardWindow } from './WalkForwardReport'
import { WalkForwardVerdict, WalkForwardWindows } from './WalkForwardResults'

const NS = 1_000_000
const day = 86_400_000

function win(i: number, is: number | null, oos: number | null, ret: number, trades: number): WalkForwardWindow {
  const start = Date.UTC(2025, 0, 1) + i * 30 * day
  return {
    in_sample: [i * 100, i * 100 + 300],
    out_of_sample: [i * 100 + 300, i * 100 + 400],
    out_of_sample_time: [start * NS, (start + 29 * day) * NS],
    params: { fast: 10 + i * 5, slow: 50 },
    in_sample_objective: is,
    in_sample_cagr_pct: 20,
    out_of_sample_metrics: { ...metrics, total_return_pct: ret, trades },
    out_of_sample_objective: oos,
    trials: 6,
  }
}

const report: WalkForwardReport = {
  strategy: 'sma_cross',
  windows: [win(0, 1.7963, 0.5807, 5.4846, 34), win(1, 0.5306, -0.2, -3.25, 36), win(2, null, null, 0, 0)],
  out_of_sample: metrics,
  equity: [
    [Date.UTC(2025, 0, 1) * NS, 10000],
    [Date.UTC(2025, 2, 1) * NS, 10500],
  ],
  efficiency: 0.62,
  mean_in_sample_objective: 1.1634,
  mean_out_of_sample_objective: 0.19,
}

describe('WalkForwardWindows', () => {
  it('shows one row per window with its ranges, parameters and objectives', () => {
    render(<WalkForwardWindows windows={report.windows} objective="sharpe" />)
    const table = screen.getByRole('table', { name: 'Windows' })
    expect(within(table).getByRole('columnheader', { name: 'IS sharpe' })).toBeInTheDocument()
    expect(within(table).getByRole('columnheader', { name: 'OOS sharpe' })).toBeInTheDocument()
    const rows = within(table).getAllByRole('row').slice(1)
    expect(rows).toHaveLength(3)
    const cell = (r: number, col: string) => rows[r].querySelector(`[data-col="${col}"]`)!.textContent
    expect(cell(0, 'window')).toBe('1')
    expect(cell(0, 'in-sample')).toBe('0..300')
    expect(cell(0, 'oos-dates')).toBe('2025-01-01 – 2025-01-30')
    expect(cell(0, 'params')).toBe('fast=10, slow=50')
    expect(cell(0, 'is-objective')).toBe('1.796')
    expect(cell(0, 'oos-objective')).toBe('0.581')
    expect(cell(0, 'oos-return')).toBe('+5.48 %')
    expect(cell(0, 'trades')).toBe('34')
    expect(cell(1, 'in-sample')).toBe('100..400')
    expect(cell(1, 'oos-return')).toBe('-3.25 %')
    expect(rows[1].querySelector('[data-col="oos-return"]')).toHaveClass('text-rose-400')
    expect(rows[0].querySelector('[data-col="oos-return"]')).toHaveClass('text-emerald-400')
    // Undefined objectives read as a dash, not NaN.
    expect(cell(2, 'is-objective')).toBe('—')
    expect(cell(2, 'oos-objective')).toBe('—')
  })
})

describe('WalkForwardVerdict', () => {
  it('says in plain words that the system holds up, and that it is a heuristic', () => {
    render(<WalkForwardVerdict report={report} />)
    const v = screen.getByRole('region', { name: 'Verdict' })
    expect(within(v).getByRole('heading')).toHaveTextContent('Holds up out of sample')
    expect(v).toHaveTextContent('keeps 62 % of the in-sample annual return')
    expect(v).toHaveTextContent(/heuristic/)
    expect(screen.getByTestId('wf-efficiency')).toHaveTextContent('0.62')
    expect(v).toHaveAttribute('data-verdict', 'green')
  })

  it('warns when most of the edge is lost, and fails on a negative or missing efficiency', () => {
    const { rerender } = render(<WalkForwardVerdict report={{ ...report, efficiency: 0.05 }} />)
    expect(screen.getByRole('heading')).toHaveTextContent('Loses most of its edge out of sample')
    expect(screen.getByRole('region', { name: 'Verdict' })).toHaveTextContent('keeps only 5 %')
    rerender(<WalkForwardVerdict report={{ ...report, efficiency: -0.4 }} />)
    expect(screen.getByRole('heading')).toHaveTextContent('Fails out of sample')
    rerender(<WalkForwardVerdict report={{ ...report, efficiency: null }} />)
    expect(screen.getByRole('heading')).toHaveTextContent('Fails out of sample')
    expect(screen.getByTestId('wf-efficiency')).toHaveTextContent('—')
  })
})

describe('verdictOf', () => {
  it('draws the lines at 0.5 and 0', () => {
    expect(verdictOf(0.5).tone).toBe('green')
    expect(verdictOf(0.4999).tone).toBe('amber')
    expect(verdictOf(0).tone).toBe('amber')
    expect(verdictOf(-0.01).tone).toBe('red')
    expect(verdictOf(undefined).tone).toBe('red')
    expect(verdictOf(Number.NaN).tone).toBe('red')
  })
})

describe('thin', () => {
  it('keeps short curves and the ends of long ones', () => {
    expect(thin([1, 2, 3], 5)).toEqual([1, 2, 3])
    const long = Array.from({ length: 10_001 }, (_, i) => i)
    const t = thin(long, 101)
    expect(t).toHaveLength(101)
    expect(t[0]).toBe(0)
    expect(t.at(-1)).toBe(10_000)
  })
})
