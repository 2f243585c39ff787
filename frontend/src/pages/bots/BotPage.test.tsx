import { QueryClient, QueryClientProvider } from '@tanstack/react-query'
import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react'
import { createMemoryRouter, RouterProvider } from 'react-router'
import type { Role } from '../../api/client'
import type { Bot, BotEvent } from '../../lib/bots'
import { WorkspaceProvider, type Me } from '../../session'
import { FakeSocket } from '../../testing/fakeSocket'
import { BotPage, describeEvent } from './BotPage'

// lightweight-charts cannot run in jsdom (no canvas, no matchMedia).
vi.mock('../../components/bots/BotCharts', () => ({
  BotCandleChart: ({ candles }: { candles: unknown[] }) => <div data-testid="bot-candle-chart">{candles.length} candles</div>,
  BotEquityChart: ({ points }: { points: unknown[] }) => <div data-testid="bot-equity-chart">{points.length} points</div>,
}))

const WS = 'ws1'
const meAs = (role: Role): Me => ({
  user: { id: 'u1', email: 'a@b.c', is_admin: false, created_at: 0 },
  workspaces: [{ workspace_id: WS, name: 'Team', role, personal: false }],
  totp_enabled: false,
})
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
  settings_rev: 0,
  summary: { bar: 3, bars: 5, equity: 10000, pnl: 0, initial_cash: '10000', cash: '10000', position: '0', fees: '0', orders: 0, fills: 0, symbol: 'BTC/USDT', timeframe: '1h', started_at: 1 } as never,
  created_at: 0,
  updated_at: 0,
}
const candles = { symbol: 'BTC/USDT', timeframe: '1h', t: [0, H, 2 * H, 3 * H, 4 * H], o: [1, 2, 3, 4, 5], h: [1, 2, 3, 4, 5], l: [1, 2, 3, 4, 5], c: [1, 2, 3, 4, 5], v: [1, 1, 1, 1, 1] }
const ev = (seq: number, kind: string, data: object): BotEvent => ({ seq, ts: 3 * H, kind, data: data as never })
const history: BotEvent[] = [ev(1, 'state', { state: 'running' }), ev(2, 'bar', { t: 3 * H, o: 4, h: 4, l: 4, c: 4, v: 1 }), ev(3, 'equity', { t: 3 * H, equity: 10000, cash: '10000', position: '0' })]
const fill = ev(4, 'fill', { bar: 4, ts: 4 * H, event: 'filled', order: 'o1', side: 'buy', quantity: '1.5', price: '5', fee: '0.01', status: 'filled' })
const equity = ev(5, 'equity', { t: 4 * H, equity: 10012.5, cash: '9992.49', position: '1.5' })

type Patch = { url: string; body: unknown }
type Opts = { bot?: Bot; role?: Role; patch?: (body: unknown) => { status: number; body: unknown } }

function setup(events: BotEvent[], later: BotEvent[] = [], opts: Opts = {}) {
  const calls: string[] = []
  const patches: Patch[] = []
  let current = opts.bot ?? bot
  vi.stubGlobal('WebSocket', FakeSocket)
  vi.stubGlobal(
    'fetch',
    vi.fn((url: string, init?: RequestInit) => {
      calls.push(url)
      if (init?.method === 'PATCH') {
        const sent = JSON.parse(String(init.body))
        patches.push({ url, body: sent })
        const answer = opts.patch ? opts.patch(sent) : { status: 200, body: { ...current, settings_rev: current.settings_rev + 1, updated_at: current.updated_at + 1, config: { ...(current.config as object), risk: sent.risk } } }
        if (answer.status === 200) current = answer.body as Bot
        return Promise.resolve(new Response(JSON.stringify(answer.body), { status: answer.status, headers: { 'Content-Type': 'application/json' } }))
      }
      const body = url.includes('/events?after=0') ? events : url.includes('/events') ? later : url.includes('/candles') ? candles : url.includes('/strategies') ? { items: [], limit: 500, offset: 0 } : url.endsWith('/bots/b1') ? current : null
      return Promise.resolve(new Response(JSON.stringify(body), { status: body ? 200 : 404, headers: { 'Content-Type': 'application/json' } }))
    }),
  )
  const router = createMemoryRouter([{ path: '/w/:ws/bots/:id', element: <WorkspaceProvider me={meAs(opts.role ?? 'trader')}><BotPage /></WorkspaceProvider> }], {
    initialEntries: [`/w/${WS}/bots/b1`],
  })
  render(
    <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
      <RouterProvider router={router} />
    </QueryClientProvider>,
  )
  return Object.assign(calls, { patches })
}

afterEach(() => {
  vi.unstubAllGlobals()
  FakeSocket.reset()
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

const withRisk = (risk: object, over: Partial<Bot> = {}): Bot => ({ ...bot, config: { ...(bot.config as object), risk } as never, ...over })
const riskCard = () => screen.getByRole('heading', { name: /^Risk limits/ }).closest('section') as HTMLElement
const type = (label: RegExp, value: string) => fireEvent.change(within(riskCard()).getByLabelText(label), { target: { value } })

describe('BotPage risk limits', () => {
  it('shows the limits, and on a replay only the ones replays use', async () => {
    setup(history, [], { bot: withRisk({ max_order_notional: 500, max_open_orders: 3, max_drawdown_pct: null }) })
    expect(await screen.findByTestId('risk-max_order_notional')).toHaveTextContent('500')
    expect(screen.getByTestId('risk-max_open_orders')).toHaveTextContent('3')
    expect(screen.getByTestId('risk-max_position_notional')).toHaveTextContent('no limit')
    expect(screen.getByTestId('risk-max_drawdown_pct')).toHaveTextContent('no limit')
    expect(screen.queryByTestId('risk-max_daily_loss')).not.toBeInTheDocument()
    expect(screen.queryByTestId('risk-price_band_pct')).not.toBeInTheDocument()
    expect(riskCard()).toHaveTextContent('2 set')
    expect(within(riskCard()).queryByRole('textbox')).not.toBeInTheDocument()
  })

  it('shows the live-data limits for a bot on a venue', async () => {
    setup(history, [], { bot: withRisk({ max_daily_loss: 25, price_band_pct: 0.5 }, { venue: 'binance' }) })
    expect(await screen.findByTestId('risk-max_daily_loss')).toHaveTextContent('25')
    expect(screen.getByTestId('risk-price_band_pct')).toHaveTextContent('0.5')
    expect(screen.getByTestId('risk-max_order_notional')).toHaveTextContent('no limit')
  })

  it('edits the limits and sends only the filled ones, as numbers', async () => {
    const calls = setup(history, [], { bot: withRisk({ max_order_notional: 500, max_open_orders: 3 }) })
    fireEvent.click(await screen.findByRole('button', { name: 'Edit risk limits' }))
    expect(within(riskCard()).getByLabelText(/^Max order value/)).toHaveValue('500')
    type(/^Max order value/, ' 250.5 ')
    type(/^Max open orders/, '')
    type(/^Max drawdown/, '15')
    fireEvent.click(within(riskCard()).getByRole('button', { name: 'Save' }))
    await waitFor(() => expect(calls.patches).toHaveLength(1))
    expect(calls.patches[0]).toEqual({ url: `/api/workspaces/${WS}/bots/b1`, body: { risk: { max_order_notional: 250.5, max_drawdown_pct: 15 } } })
    // The answer (the updated bot) replaces the shown one; the inputs go.
    await waitFor(() => expect(screen.getByTestId('risk-max_order_notional')).toHaveTextContent('250.5'))
    expect(screen.getByTestId('risk-max_drawdown_pct')).toHaveTextContent('15')
    expect(screen.getByTestId('risk-max_open_orders')).toHaveTextContent('no limit')
    expect(within(riskCard()).queryByRole('button', { name: 'Save' })).not.toBeInTheDocument()
  })

  it('sends an empty object when every limit is cleared', async () => {
    const calls = setup(history, [], { bot: withRisk({ max_order_notional: 500 }) })
    fireEvent.click(await screen.findByRole('button', { name: 'Edit risk limits' }))
    type(/^Max order value/, '')
    fireEvent.click(within(riskCard()).getByRole('button', { name: 'Save' }))
    await waitFor(() => expect(calls.patches).toHaveLength(1))
    expect(calls.patches[0].body).toEqual({ risk: {} })
    await waitFor(() => expect(screen.getByTestId('risk-max_order_notional')).toHaveTextContent('no limit'))
  })

  it("shows the server's message when it refuses the limits", async () => {
    setup(history, [], {
      bot: withRisk({}, { venue: 'binance' }),
      patch: () => ({ status: 400, body: { code: 'bad_request', message: 'risk.max_daily_loss must be a positive amount' } }),
    })
    fireEvent.click(await screen.findByRole('button', { name: 'Edit risk limits' }))
    type(/^Max daily loss/, '40')
    fireEvent.click(within(riskCard()).getByRole('button', { name: 'Save' }))
    expect(await within(riskCard()).findByRole('alert')).toHaveTextContent('risk.max_daily_loss must be a positive amount')
    // Still editing, with what was typed.
    expect(within(riskCard()).getByLabelText(/^Max daily loss/)).toHaveValue('40')
  })

  it('flags a bad value and sends nothing', async () => {
    const calls = setup(history, [], { bot: withRisk({}) })
    fireEvent.click(await screen.findByRole('button', { name: 'Edit risk limits' }))
    type(/^Max order value/, '-5')
    type(/^Max open orders/, '2.5')
    fireEvent.click(within(riskCard()).getByRole('button', { name: 'Save' }))
    expect(await within(riskCard()).findByText('Must be a number.')).toBeInTheDocument()
    expect(within(riskCard()).getByText('Must be a whole number, at least 1.')).toBeInTheDocument()
    expect(within(riskCard()).getByLabelText(/^Max order value/)).toHaveAttribute('aria-invalid', 'true')
    type(/^Max order value/, '0')
    fireEvent.click(within(riskCard()).getByRole('button', { name: 'Save' }))
    expect(await within(riskCard()).findByText('Must be above 0.')).toBeInTheDocument()
    expect(calls.patches).toHaveLength(0)
    // Cancel leaves the limits as they were.
    fireEvent.click(within(riskCard()).getByRole('button', { name: 'Cancel' }))
    expect(screen.getByTestId('risk-max_order_notional')).toHaveTextContent('no limit')
    expect(calls.patches).toHaveLength(0)
  })

  it('offers Edit by role: not to viewers, and a live bot only to owners and traders', async () => {
    setup(history, [], { bot: withRisk({ max_order_notional: 500 }), role: 'viewer' })
    expect(await screen.findByTestId('risk-max_order_notional')).toHaveTextContent('500')
    expect(screen.queryByRole('button', { name: 'Edit risk limits' })).not.toBeInTheDocument()
  })

  it('does not offer Edit of a live bot to an analyst, but does of a paper bot', async () => {
    setup(history, [], { bot: withRisk({ max_order_notional: 500 }, { mode: 'live', venue: 'binance' }), role: 'analyst' })
    expect(await screen.findByTestId('risk-max_order_notional')).toHaveTextContent('500')
    expect(screen.queryByRole('button', { name: 'Edit risk limits' })).not.toBeInTheDocument()
  })

  it('offers Edit of a paper bot to an analyst', async () => {
    setup(history, [], { bot: withRisk({}, { venue: 'binance' }), role: 'analyst' })
    expect(await screen.findByRole('button', { name: 'Edit risk limits' })).toBeInTheDocument()
  })

  it('shows settings events readably in the event log', async () => {
    const settings = ev(4, 'settings', { bar: 3, rev: 2, risk: { max_order_notional: 10, max_position_notional: null, max_open_orders: 3 } })
    setup([...history, settings])
    const log = await screen.findByRole('list', { name: 'Event log' })
    await waitFor(() => expect(log.querySelector('[data-kind="settings"]')).toHaveTextContent('Limits changed: max order 10, max open orders 3'))
    expect(describeEvent(ev(5, 'settings', { bar: 9, rev: 3, risk: {} }))).toBe('Limits changed: no limits (revision 3)')
  })

  it('describes daily summaries, live orders, log lines and mismatches in words', () => {
    expect(describeEvent(ev(6, 'summary', { day: '2025-12-21', pnl: 81.476, pnl_pct: 0.7948, equity: 10332.93, orders: 1, fills: 2 }))).toBe(
      '2025-12-21: PnL +81.48 (+0.79 %), equity 10,332.93, 1 order, 2 fills',
    )
    expect(
      describeEvent(ev(7, 'order', { client_order_id: 'skabcx3', venue_order_id: '12', side: 'sell', quantity: '0.01', state: 'filled', reason: 'stop_loss' })),
    ).toBe('order skabcx3 sell 0.01: filled (stop loss)')
    expect(describeEvent(ev(8, 'order', { client_order_id: 'skabcx2', state: 'cancelled', reason: 'expired' }))).toBe('order skabcx2: cancelled (expired)')
    expect(describeEvent(ev(9, 'log', { message: 'time_stop reached', reason: 'time_stop' }))).toBe('time_stop reached')
    expect(describeEvent(ev(10, 'mismatch', { kind: 'fill_recovered', message: 'fill 7 happened while the bot was down' }))).toBe(
      'fill recovered: fill 7 happened while the bot was down',
    )
  })
})
