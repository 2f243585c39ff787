import { render, screen, within } from '@testing-library/react'
import { heatmap } from './fixtures'
import { Heatmap, scaleColor } from './Heatmap'

describe('Heatmap', () => {
  it('draws one labelled cell per (x, y) with the best marked', () => {
    render(<Heatmap data={heatmap} objective="sharpe" best={{ fast: 10, slow: 40 }} />)
    const table = screen.getByRole('table', { name: 'Heat map of sharpe by fast and slow' })
    const cells = within(table).getAllByTestId('heatmap-cell')
    expect(cells).toHaveLength(6)
    // axis labels: parameter names and values
    expect(within(table).getByText(/Columns:/)).toHaveTextContent('Columns: fast · rows: slow')
    for (const v of ['5', '10', '15']) expect(within(table).getByRole('columnheader', { name: v })).toBeInTheDocument()
    for (const v of ['30', '40']) expect(within(table).getByRole('rowheader', { name: v })).toBeInTheDocument()
    // z[j][i] is (x[i], y[j]): row slow=30, column fast=10 holds 0.12
    expect(cells[1]).toHaveAttribute('title', 'fast 10, slow 30: sharpe 0.12')
    expect(cells[1]).toHaveTextContent('0.12')
    // null: no feasible trial, no colour
    expect(cells[2]).toHaveAttribute('title', 'fast 15, slow 30: no feasible trial')
    expect(cells[2]).toHaveTextContent('–')
    // the best
    const best = cells.filter((c) => c.dataset.best === 'true')
    expect(best).toHaveLength(1)
    expect(best[0]).toHaveAttribute('title', 'fast 10, slow 40: sharpe 1.19 (best)')
    expect(best[0]).toHaveAccessibleName('fast 10, slow 40: sharpe 1.19 (best)')
    // colours: the highest value gets the top of the scale
    expect(best[0].style.backgroundColor).toBe(scaleColor(1))
    expect(cells[1].style.backgroundColor).toBe(scaleColor(0))
  })

  it('has a colour legend with the range', () => {
    render(<Heatmap data={heatmap} objective="sharpe" />)
    const legend = screen.getByLabelText('Colour scale')
    expect(legend).toHaveTextContent('0.12')
    expect(legend).toHaveTextContent('1.19')
  })

  it('says so when nothing is feasible', () => {
    render(<Heatmap data={{ ...heatmap, z: [[null, null, null], [null, null, null]] }} objective="sharpe" />)
    expect(screen.getByText('No feasible trial to draw.')).toBeInTheDocument()
  })
})
