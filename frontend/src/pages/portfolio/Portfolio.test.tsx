import { QueryClient, QueryClientProvider } from '@tanstack/react-query'
import { act, render, screen, waitFor, within } from '@testing-library/react'
import { createMemoryRouter, RouterProvider } from 'react-router'
import type { Bot } from '../../lib/bots'
import { openPositions, portfolioTotals } from '../../lib/portfolio'
import { WorkspaceProvider, type Me } from '../../session'
import { FakeSocket } from '../../testing/fakeSocket'
import { Portfolio } from './Portfolio'

// Recharts measures its container, which jsdom cannot: draw the chart's data as a list.
vi.mock('../../components/portfolio/PnlChart', () => ({
  PnlChart: ({ data }: { data: { name: string; mode: string; pnl: number }[] }) => (
    <ul data-testid="pnl-chart">
      {data.map((d) => (
        <li key={d.name}>
          {d.name} {d.mode} {d.pnl}
        </li>
      ))}
    </ul>
  ),
}))

const WS = 'ws1'
const me: Me = {
  user: { id: 'u1', email: 'a@b.c', is_admin: false, created_at: 0 },
  workspaces: [{ workspace_id: WS, name: 'Team', role: 'trader', personal: false }],
  totp_enabled: false,
}

function bot(id: string, mode: 'paper' | 'live', state: string, summary: object): Bot {
  return {
    id,
    workspace_id: WS,
    name: `bot ${id}`,
    mode,
    venue: mode === 'paper' ? 'replay' : 'binance',
    config: {} as never,
    state,
    desired: state === 'running' || state === 'paused' ? state : 'stopped',
    fence: 1,
    settings_rev: 0,
    summary: summary as never,
    created_at: 0,
    updated_at: 0,
  }
}

const s = (pnl: number, position: string, last_price: number, fees: string, fills: number) => ({
  bar: 10,
  bars: 10,
  equity: 10000 + pnl,
  pnl,
  initial_cash: '10000',
  cash: '10000',
  position,
  fees,
  last_price,
  orders: fills,
  fills,
  symbol: 'BTC/USDT',
  timeframe: '1h',
  started_at: 1,
})

const BOTS: Bot[] = [
  bot('p1', 'paper', 'running', s(120.5, '0.5', 100, '1.105', 4)), // value 50
  bot('p2', 'paper', 'paused', s(-20.25, '-2', 100, '0.2', 2)), // value -200
  bot('p3', 'paper', 'finished', s(10, '0', 100, '0.333', 6)),
  bot('p4', 'paper', 'stopped', {}), // never ran
  bot('p5', 'paper', 'killed', s(-300, '0', 90, '2', 1)),
  bot('l1', 'live', 'running', s(5, '0.01', 60000, '0.6', 3)), // value 600
  bot('l2', 'live', 'error', s(-1, '0', 60000, '0.1', 1)),
]

function setup(bots: Bot[]) {
  const reads: string[] = []
  vi.stubGlobal('WebSocket', FakeSocket)
  vi.stubGlobal(
    'fetch',
    vi.fn((url: string) => {
      if (url.endsWith(`/workspaces/${WS}/bots`)) reads.push(url)
      const body = url.endsWith(`/workspaces/${WS}/bots`) ? bots : null
      return Promise.resolve(new Response(JSON.stringify(body), { status: body ? 200 : 404, headers: { 'Content-Type': 'application/json' } }))
    }),
  )
  const router = createMemoryRouter([{ path: '/w/:ws/portfolio', element: <WorkspaceProvider me={me}><Portfolio /></WorkspaceProvider> }], {
    initialEntries: [`/w/${WS}/portfolio`],
  })
  render(
    <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
      <RouterProvider router={router} />
    </QueryClientProvider>,
  )
  return reads
}

afterEach(() => {
  vi.unstubAllGlobals()
  FakeSocket.reset()
})

describe('portfolioTotals', () => {
  it('adds up paper and live bots apart', () => {
    const t = portfolioTotals(BOTS)
    expect(t.paper).toEqual({ bots: 5, pnl: -189.75, running: 1, paused: 1, stopped: 2, failed: 1, fills: 13, fees: 3.64, openPositions: 2, currency: 'USDT' })
    expect(t.live).toEqual({ bots: 2, pnl: 4, running: 1, paused: 0, stopped: 0, failed: 1, fills: 4, fees: 0.7, openPositions: 1, currency: 'USDT' })
  })

  it('sorts open positions by absolute value', () => {
    expect(openPositions(BOTS).map((p) => [p.bot.id, p.value])).toEqual([
      ['l1', 600],
      ['p2', -200],
      ['p1', 50],
    ])
  })
})

describe('Portfolio', () => {
  it('shows paper and live totals apart, positions by size and PnL per bot', async () => {
    setup(BOTS)
    const paper = await screen.findByRole('region', { name: 'Paper bots' })
    const live = screen.getByRole('region', { name: 'Live bots' })
    expect(within(paper).getByTestId('paper-pnl')).toHaveTextContent('-189.75')
    expect(within(paper).getByTestId('paper-pnl')).toHaveClass('text-rose-400')
    expect(within(paper).getByTestId('paper-running')).toHaveTextContent('1')
    expect(within(paper).getByTestId('paper-paused')).toHaveTextContent('1')
    expect(within(paper).getByTestId('paper-stopped')).toHaveTextContent('2')
    expect(within(paper).getByTestId('paper-failed')).toHaveTextContent('1')
    expect(within(paper).getByTestId('paper-fills')).toHaveTextContent('13')
    expect(within(paper).getByTestId('paper-fees')).toHaveTextContent('3.64')
    expect(within(paper).getByTestId('paper-positions')).toHaveTextContent('2')
    expect(within(live).getByTestId('live-pnl')).toHaveTextContent('+4.00')
    expect(within(live).getByTestId('live-pnl')).toHaveClass('text-emerald-400')
    expect(within(live).getByTestId('live-fees')).toHaveTextContent('0.70')
    expect(within(live).getByTestId('live-positions')).toHaveTextContent('1')

    const rows = within(screen.getByRole('table', { name: 'Open positions' })).getAllByRole('row').slice(1)
    expect(rows.map((r) => r.getAttribute('data-bot'))).toEqual(['bot l1', 'bot p2', 'bot p1'])
    expect(rows[0]).toHaveTextContent('live')
    expect(rows[0]).toHaveTextContent('600.00 USDT')
    expect(rows[1]).toHaveTextContent('-200.00 USDT')
    expect(within(rows[1]).getByRole('link', { name: 'bot p2' })).toHaveAttribute('href', `/w/${WS}/bots/p2`)

    // Every bot that ran has a bar; the one that never ran has none.
    const chart = screen.getByTestId('pnl-chart')
    expect(within(chart).getAllByRole('listitem')).toHaveLength(6)
    expect(chart).not.toHaveTextContent('bot p4')
    expect(chart).toHaveTextContent('bot l1 live 5')
  })

  it('follows the bot events of the workspace channel', async () => {
    const reads = setup(BOTS)
    const live = await screen.findByRole('region', { name: 'Live bots' })
    expect(within(live).getByTestId('live-pnl')).toHaveTextContent('+4.00')
    const channel = `workspace:${WS}`
    await waitFor(() => expect(FakeSocket.on(channel)).toBeDefined())
    await waitFor(() => expect(reads).toHaveLength(2)) // read again once subscribed
    // l1 closes its position with a profit and stops.
    const l1 = { ...BOTS[5], state: 'stopped', desired: 'stopped', summary: s(25, '0', 61000, '0.9', 4) as never, updated_at: 10 }
    act(() => FakeSocket.on(channel)!.push({ type: 'event', channel, event: 'bot', data: l1 }))
    await waitFor(() => expect(within(live).getByTestId('live-pnl')).toHaveTextContent('+24.00'))
    expect(within(live).getByTestId('live-running')).toHaveTextContent('0')
    expect(within(live).getByTestId('live-positions')).toHaveTextContent('0')
    expect(screen.getByRole('table', { name: 'Open positions' })).not.toHaveTextContent('bot l1')
  })

  it('says so when a mode has no bots', async () => {
    setup(BOTS.filter((b) => b.mode === 'paper'))
    const live = await screen.findByRole('region', { name: 'Live bots' })
    expect(live).toHaveTextContent('No live bots in this workspace.')
    expect(screen.getByTestId('paper-pnl')).toHaveTextContent('-189.75')
  })

  it('has an empty state with a link to a new paper bot', async () => {
    setup([])
    expect(await screen.findByText('No bots yet')).toBeInTheDocument()
    const links = screen.getAllByRole('link', { name: 'New paper bot' })
    expect(links.length).toBeGreaterThan(0)
    for (const l of links) expect(l).toHaveAttribute('href', `/w/${WS}/bots/new`)
    expect(screen.queryByRole('region', { name: 'Paper bots' })).not.toBeInTheDocument()
  })
})
