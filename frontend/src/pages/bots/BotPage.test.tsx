import { QueryClient, QueryClientProvider } from '@tanstack/react-query'
import { act, render, screen, waitFor, within } from '@testing-library/react'
import { createMemoryRouter, RouterProvider } from 'react-router'
import type { Bot, BotEvent } from '../../lib/bots'
import { WorkspaceProvider, type Me } from '../../session'
import { BotPage } from './BotPage'

// lightweight-charts cannot run in jsdom (no canvas, no matchMedia).
vi.mock('../../components/bots/BotCharts', () => ({
  BotCandleChart: ({ candles }: { candles: unknown[] }) => <div data-testid="bot-candle-chart">{candles.length} candles</div>,
  BotEquityChart: ({ points }: { points: unknown[] }) => <div data-testid="bot-equity-chart">{points.length} points</div>,
}))

const WS = 'ws1'
const me: Me = {
  user: { id: 'u1', email: 'a@b.c', is_admin: false, created_at: 0 },
  workspaces: [{ workspace_id: WS, name: 'Team', role: 'trader', personal: false }],
  totp_enabled: false,
}
const H = 3_600_000
const bot: Bot = {
  id: 'b1',
  workspace_id: WS,
  name: 'alpha',
  mode: 'paper',
  venue: 'replay',
  config: { run: { dataset: 'd1', strategy: 'sma_cross', symbol: 'BTC/USDT', timeframe: '1h', cash: '10000' }, speed: 20, paced_bars: 2 } as never,
  state: 'running',
  desired: 'running',
  fence: 1,
  summary: { bar: 3, bars: 5, equity: 10000, pnl: 0, initial_cash: '10000', cash: '10000', position: '0', fees: '0', orders: 0, fills: 0, symbol: 'BTC/USDT', timeframe: '1h', started_at: 1 } as never,
  created_at: 0,
  updated_at: 0,
}
const candles = { symbol: 'BTC/USDT', timeframe: '1h', t: [0, H, 2 * H, 3 * H, 4 * H], o: [1, 2, 3, 4, 5], h: [1, 2, 3, 4, 5], l: [1, 2, 3, 4, 5], c: [1, 2, 3, 4, 5], v: [1, 1, 1, 1, 1] }
const ev = (seq: number, kind: string, data: object): BotEvent => ({ seq, ts: 3 * H, kind, data: data as never })
const history: BotEvent[] = [ev(1, 'state', { state: 'running' }), ev(2, 'bar', { t: 3 * H, o: 4, h: 4, l: 4, c: 4, v: 1 }), ev(3, 'equity', { t: 3 * H, equity: 10000, cash: '10000', position: '0' })]
const fill = ev(4, 'fill', { bar: 4, ts: 4 * H, event: 'filled', order: 'o1', side: 'buy', quantity: '1.5', price: '5', fee: '0.01', status: 'filled' })
const equity = ev(5, 'equity', { t: 4 * H, equity: 10012.5, cash: '9992.49', position: '1.5' })

class FakeSocket {
  static last: FakeSocket | null = null
  sent: string[] = []
  onopen: (() => void) | null = null
  onmessage: ((m: { data: string }) => void) | null = null
  onclose: (() => void) | null = null
  constructor() {
    FakeSocket.last = this
    setTimeout(() => this.onopen?.(), 0)
  }
  send(s: string) {
    this.sent.push(s)
    const m = JSON.parse(s)
    setTimeout(() => this.push({ type: 'subscribed', channel: m.channel }), 0)
  }
  close() {}
  push(msg: object) {
    this.onmessage?.({ data: JSON.stringify(msg) })
  }
}

function setup(events: BotEvent[], later: BotEvent[] = []) {
  const calls: string[] = []
  vi.stubGlobal('WebSocket', FakeSocket)
  vi.stubGlobal(
    'fetch',
    vi.fn((url: string) => {
      calls.push(url)
      const body = url.includes('/events?after=0') ? events : url.includes('/events') ? later : url.includes('/candles') ? candles : url.includes('/strategies') ? { items: [], limit: 500, offset: 0 } : url.endsWith('/bots/b1') ? bot : null
      return Promise.resolve(new Response(JSON.stringify(body), { status: body ? 200 : 404, headers: { 'Content-Type': 'application/json' } }))
    }),
  )
  const router = createMemoryRouter([{ path: '/w/:ws/bots/:id', element: <WorkspaceProvider me={me}><BotPage /></WorkspaceProvider> }], {
    initialEntries: [`/w/${WS}/bots/b1`],
  })
  render(
    <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
      <RouterProvider router={router} />
    </QueryClientProvider>,
  )
  return calls
}

afterEach(() => {
  vi.unstubAllGlobals()
  FakeSocket.last = null
})

describe('BotPage', () => {
  it('shows the history, then live events from the websocket once each', async () => {
    setup(history)
    expect(await screen.findByTestId('bot-state')).toHaveTextContent('running')
    await waitFor(() => expect(screen.getByTestId('bot-candle-chart')).toHaveTextContent('4 candles')) // 3 from the dataset + 1 live
    expect(screen.getByTestId('bot-fills')).toHaveTextContent('0')
    expect(screen.getByText('No fills yet.')).toBeInTheDocument()
    await waitFor(() => expect(FakeSocket.last?.sent).toEqual([JSON.stringify({ op: 'subscribe', channel: 'bot:b1' })]))
    const push = (e: BotEvent) => act(() => FakeSocket.last!.push({ type: 'event', channel: 'bot:b1', event: 'bot', data: e }))
    push(fill)
    push(equity)
    push(fill) // a repeat is not counted twice
    await waitFor(() => expect(screen.getByTestId('bot-fills')).toHaveTextContent('1'))
    expect(screen.getByTestId('bot-pnl')).toHaveTextContent('+12.50')
    const rows = within(screen.getByTestId('fills-table')).getAllByRole('row')
    expect(rows).toHaveLength(2) // header + one fill
    expect(rows[1]).toHaveTextContent('buy')
    expect(rows[1]).toHaveTextContent('1.5')
    expect(screen.getByTestId('bot-equity-chart')).toHaveTextContent('2 points')
    expect(screen.getByTestId('bot-progress')).toHaveTextContent('4 / 5')
  })

  it('reads the log again when a push comes after a missing event', async () => {
    const missed: BotEvent[] = []
    const calls = setup(history, missed)
    await waitFor(() => expect(FakeSocket.last?.sent.length).toBe(1))
    await screen.findByText('No fills yet.')
    // seq 5 arrives but 4 (the fill) was missed: the page reads the log after 3.
    missed.push(fill, equity)
    act(() => FakeSocket.last!.push({ type: 'event', channel: 'bot:b1', event: 'bot', data: equity }))
    await waitFor(() => expect(screen.getByTestId('bot-fills')).toHaveTextContent('1'))
    expect(calls).toContain('/api/workspaces/ws1/bots/b1/events?after=3&limit=5000')
    expect(screen.getByTestId('bot-pnl')).toHaveTextContent('+12.50')
  })
})
