import { render, screen, within } from '@testing-library/react'
import { metrics } from './fixtures'
import { MetricsCards } from './MetricsCards'

function value(label: string): string {
  const card = screen.getByText(label).closest('div')!
  return within(card).getByText((_, el) => el?.getAttribute('data-metric') === label).textContent ?? ''
}

describe('MetricsCards', () => {
  it('formats the metrics for traders', () => {
    render(<MetricsCards metrics={metrics} currency="USDT" />)
    expect(value('Total return')).toBe('+12.35 %')
    expect(value('CAGR')).toBe('-3.78 %')
    expect(value('Sharpe')).toBe('1.23')
    expect(value('Sortino')).toBe('1.8')
    expect(value('Max drawdown')).toBe('-53.07 %')
    expect(value('Win rate')).toBe('31.9 %')
    expect(value('Profit factor')).toBe('—')
    expect(value('Trades')).toBe('1,329')
    expect(value('Exposure')).toBe('49.5 %')
    expect(value('Final equity')).toBe('11,234.50 USDT')
  })

  it('colours gains green and losses red', () => {
    render(<MetricsCards metrics={metrics} currency="USD" />)
    expect(screen.getByText('+12.35 %')).toHaveClass('text-emerald-400')
    expect(screen.getByText('-3.78 %')).toHaveClass('text-rose-400')
    expect(screen.getByText('-53.07 %')).toHaveClass('text-rose-400')
  })
})
