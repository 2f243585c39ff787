import { fireEvent, render, screen, within } from '@testing-library/react'
import { trades } from './fixtures'
import { TradeTable } from './TradeTable'

function firstCells(): string[] {
  const rows = within(screen.getByRole('table', { name: 'Trades' })).getAllByRole('row').slice(1)
  return rows.map((r) => within(r).getAllByRole('cell')[7].textContent ?? '')
}

describe('TradeTable', () => {
  it('shows trades at instrument precision with times in UTC', () => {
    render(<TradeTable trades={trades} currency="USDT" />)
    const table = screen.getByRole('table', { name: 'Trades' })
    expect(within(table).getByText('49,913.263')).toBeInTheDocument()
    expect(within(table).getByText('50,000.000')).toBeInTheDocument() // same places as the other prices
    expect(within(table).getByText('2024-01-08 03:00')).toBeInTheDocument()
    expect(within(table).getByText('-149.92 USDT')).toBeInTheDocument()
    expect(within(table).getByText('short')).toBeInTheDocument()
    // return % of the entry notional: 243.13 / (50177.506 × 0.1961085594)
    expect(within(table).getByText('+2.47 %')).toBeInTheDocument()
  })

  it('sorts by a column when its header button is pressed, both ways', () => {
    render(<TradeTable trades={trades} currency="USDT" />)
    expect(firstCells()).toEqual(['-149.92 USDT', '243.13 USDT', '95.05 USDT'])
    const header = screen.getByRole('columnheader', { name: /PnL/ })
    expect(header).toHaveAttribute('aria-sort', 'none')
    const button = within(header).getByRole('button')
    fireEvent.click(button)
    expect(header).toHaveAttribute('aria-sort', 'descending')
    expect(firstCells()).toEqual(['243.13 USDT', '95.05 USDT', '-149.92 USDT'])
    fireEvent.click(button)
    expect(header).toHaveAttribute('aria-sort', 'ascending')
    expect(firstCells()).toEqual(['-149.92 USDT', '95.05 USDT', '243.13 USDT'])
    // another column takes over
    fireEvent.click(within(screen.getByRole('columnheader', { name: /Side/ })).getByRole('button'))
    expect(header).toHaveAttribute('aria-sort', 'none')
  })

  it('says so when there are no trades', () => {
    render(<TradeTable trades={[]} currency="USDT" />)
    expect(screen.getByText('No closed trades')).toBeInTheDocument()
  })
})
