import { fireEvent, render, screen, within } from '@testing-library/react'
import { GuardsPanel, deflatedVerdict, plateauVerdict } from './GuardsPanel'
import { trials } from './fixtures'
import { TopTrials, rankTrials } from './TopTrials'

describe('TopTrials', () => {
  it('ranks feasible trials by objective and sorts by a column', () => {
    expect(rankTrials(trials, 3).map((r) => r.index)).toEqual([4, 5, 3])
    render(<TopTrials trials={trials} params={['fast', 'slow']} best={4} />)
    const table = screen.getByRole('table', { name: 'Top results' })
    const rows = () => within(table).getAllByRole('row').slice(1)
    expect(rows()).toHaveLength(5) // the infeasible one is left out
    expect(rows()[0]).toHaveTextContent('1 (best)')
    expect(rows()[0]).toHaveTextContent('+122.70 %')
    fireEvent.click(within(screen.getByRole('columnheader', { name: /Trades/ })).getByRole('button'))
    expect(within(rows()[0]).getAllByRole('cell')[7]).toHaveTextContent('399')
  })
})

describe('GuardsPanel', () => {
  it('explains the guards in words', () => {
    render(<GuardsPanel guards={{ trials: 16, neighbours: 5, neighbour_mean: 0.9877, neighbour_min: 0.7629, plateau_ratio: 0.8288, deflated_sharpe: 0.8055 }} objective="sharpe" />)
    expect(screen.getByText('plateau')).toBeInTheDocument()
    expect(screen.getByText('80.5 %')).toBeInTheDocument()
    expect(screen.getByText(/The 5 neighbours of the best point/)).toHaveTextContent('average 0.988 sharpe (worst 0.763)')
    expect(plateauVerdict(0.2).word).toBe('spike')
    expect(deflatedVerdict(0.97).word).toBe('convincing')
    expect(deflatedVerdict(null).word).toBe('unknown')
  })
})
