import { QueryClient, QueryClientProvider } from '@tanstack/react-query'
import { fireEvent, render, screen, waitFor, within } from '@testing-library/react'
import { createMemoryRouter, RouterProvider } from 'react-router'
import type { Role } from '../../api/client'
import { WorkspaceProvider, type Me } from '../../session'
import { NewBot } from './NewBot'

const WS = 'ws1'
const meAs = (role: Role): Me => ({
  user: { id: 'u1', email: 'a@b.c', is_admin: false, created_at: 0 },
  workspaces: [{ workspace_id: WS, name: 'Team', role, personal: false }],
  totp_enabled: false,
})
const sma = { name: 'sma_cross', parameters: { fast: { int: [5, 50], step: 5, default: 10 }, slow: { int: [20, 200], step: 10, default: 30 } } }
const strategies = { items: [{ id: 's1', workspace_id: WS, name: 'SMA crossover', latest_version: 2, created_at: 0, updated_at: 0, spec: sma }], limit: 500, offset: 0 }
const datasets = {
  items: [{ id: 'd1', workspace_id: WS, name: 'Demo BTC/USDT 1h', venue: 'synthetic', symbol: 'BTC/USDT', timeframe: '1h', bars: 17520, first_ts: 0, last_ts: 0, data_hash: 'x', created_at: 0, updated_at: 0 }],
  limit: 500,
  offset: 0,
}
const market = (symbol: string, status = 'trading') => ({
  symbol,
  base: symbol.split('/')[0],
  quote: symbol.split('/')[1],
  status,
  min_notional: '5',
  min_qty: '0.0001',
  step_size: '0.0001',
  tick_size: '0.01',
  venue_symbol: symbol.replace('/', ''),
})
const credentials = [
  { id: 'c-bin', workspace_id: WS, venue: 'binance', label: 'Main Binance', api_key_masked: 'abcd****wxyz', created_at: 0, created_by: 'u1' },
  { id: 'c-kr', workspace_id: WS, venue: 'kraken', label: 'Kraken desk', api_key_masked: 'kkkk****kkkk', created_at: 0, created_by: 'u1' },
]

function json(body: unknown, status = 200) {
  return Promise.resolve(new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } }))
}

function setup(role: Role, opts: { marketsDown?: boolean; creds?: unknown[] } = {}) {
  const posts: { url: string; body: unknown }[] = []
  const fetchMock = vi.fn((url: string, init?: RequestInit) => {
    if (init?.method === 'POST') {
      posts.push({ url, body: init.body ? JSON.parse(String(init.body)) : undefined })
      return json({ id: 'b1', name: 'x', state: 'stopped' }, 201)
    }
    if (url.includes('/markets')) return opts.marketsDown ? json({ code: 'venue_unavailable', message: 'unreachable' }, 502) : json([market('BTC/USDT'), market('ETH/USDT'), market('LUNA/USDT', 'halted')])
    if (url.includes('/credentials')) return json(opts.creds ?? credentials)
    if (url.includes('/versions')) return json([{ strategy_id: 's1', version: 2, spec: sma, spec_hash: 'h2', created_at: 0, created_by: 'u1' }])
    if (url.includes('/strategies')) return json(strategies)
    if (url.includes('/datasets')) return json(datasets)
    if (url.includes('/api/templates')) return json([{ name: 'ema_cross', description: '', spec: { parameters: {} } }])
    return json({ code: 'not_found', message: 'no' }, 404)
  })
  vi.stubGlobal('fetch', fetchMock)
  const router = createMemoryRouter(
    [
      { path: '/w/:ws/bots/new', element: <WorkspaceProvider me={meAs(role)}><NewBot /></WorkspaceProvider> },
      { path: '/w/:ws/bots/:id', element: <p>bot page</p> },
      { path: '/w/:ws/credentials', element: <p>credentials page</p> },
    ],
    { initialEntries: [`/w/${WS}/bots/new`] },
  )
  render(
    <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
      <RouterProvider router={router} />
    </QueryClientProvider>,
  )
  return { fetchMock, posts }
}

const change = (label: RegExp, value: string) => fireEvent.change(screen.getByLabelText(label), { target: { value } })

async function ready() {
  await waitFor(() => expect(screen.getByLabelText(/^fast/)).toHaveValue(10))
  change(/^Name/, 'my bot')
}

afterEach(() => vi.unstubAllGlobals())

describe('NewBot', () => {
  it('replays a dataset by default and sends only the risk limits that are filled', async () => {
    const { posts } = setup('analyst')
    await ready()
    expect(screen.getByLabelText(/^Where it trades/)).toHaveValue('replay')
    expect(screen.getByLabelText(/^Dataset/)).toHaveValue('d1')
    change(/^Speed/, '50')
    // Limits that need a venue's live prices are not offered for a replay.
    expect(screen.queryByLabelText(/^Max daily loss/)).not.toBeInTheDocument()
    expect(screen.queryByLabelText(/^Price band/)).not.toBeInTheDocument()
    expect(screen.queryByLabelText(/^Max total exposure/)).not.toBeInTheDocument()
    change(/^Max order value/, '500')
    change(/^Max drawdown/, '20')
    fireEvent.click(screen.getByRole('button', { name: 'Create' }))
    expect(await screen.findByText('bot page')).toBeInTheDocument()
    expect(posts).toEqual([
      {
        url: `/api/workspaces/${WS}/bots`,
        body: {
          name: 'my bot',
          run: { strategy_id: 's1', dataset: 'd1', params: { fast: 10, slow: 30 }, cash: '10000', commission: '0.001' },
          speed: 50,
          paced_bars: 300,
          risk: { max_order_notional: 500, max_drawdown_pct: 20 },
        },
      },
    ])
  })

  it('sends no risk when no limit is filled, and starts the bot with "Create and start"', async () => {
    const { posts } = setup('analyst')
    await ready()
    fireEvent.click(screen.getByRole('button', { name: 'Create and start' }))
    expect(await screen.findByText('bot page')).toBeInTheDocument()
    expect(posts.map((p) => p.url)).toEqual([`/api/workspaces/${WS}/bots`, `/api/workspaces/${WS}/bots/b1/start`])
    expect(posts[0].body).not.toHaveProperty('risk')
  })

  it('creates a paper bot on live data, typing the symbol when the venue is unreachable', async () => {
    const { posts } = setup('analyst', { marketsDown: true })
    await ready()
    change(/^Where it trades/, 'paper')
    expect(screen.queryByLabelText(/^Dataset/)).not.toBeInTheDocument()
    expect(screen.queryByLabelText(/^Speed/)).not.toBeInTheDocument()
    change(/^Venue/, 'kraken')
    expect(await screen.findByText(/could not be read: type the symbol/)).toBeInTheDocument()
    change(/^Symbol/, 'ETH/USD')
    change(/^Timeframe/, '15m')
    change(/^Quote per trade/, '100')
    change(/^Warm-up bars/, '500')
    change(/^Starting cash/, '5000')
    change(/^Max daily loss/, '50')
    change(/^Max open orders/, '2')
    change(/^fast/, '15')
    fireEvent.click(screen.getByRole('button', { name: 'Create' }))
    expect(await screen.findByText('bot page')).toBeInTheDocument()
    expect(posts[0].body).toEqual({
      name: 'my bot',
      mode: 'paper',
      venue: 'kraken',
      run: { strategy_id: 's1', params: { fast: 15, slow: 30 }, symbol: 'ETH/USD', timeframe: '15m', cash: '5000' },
      live: { quote_per_trade: '100', warmup_bars: 500 },
      risk: { max_open_orders: 2, max_daily_loss: 50 },
    })
  })

  it('creates a live bot with an exchange account of the venue', async () => {
    const { posts } = setup('trader')
    await ready()
    change(/^Where it trades/, 'live')
    expect(screen.getByText(/places real orders with the selected exchange account/)).toBeInTheDocument()
    // The venue's trading markets feed the symbol's suggestions.
    await waitFor(() => expect(document.querySelectorAll('datalist option')).toHaveLength(2))
    const account = await screen.findByLabelText(/^Exchange account/)
    expect(within(account).getAllByRole('option').map((o) => o.textContent)).toEqual(['Main Binance (abcd****wxyz)'])
    expect(account).toHaveValue('c-bin')
    change(/^Timeframe/, '1m')
    fireEvent.click(screen.getByRole('button', { name: 'Create' }))
    expect(await screen.findByText('bot page')).toBeInTheDocument()
    expect(posts[0].body).toEqual({
      name: 'my bot',
      mode: 'live',
      venue: 'binance',
      run: { strategy_id: 's1', params: { fast: 10, slow: 30 }, symbol: 'BTC/USDT', timeframe: '1m' },
      live: { quote_per_trade: '250', warmup_bars: 300, credential_id: 'c-bin' },
    })
  })

  it('links to Exchange accounts when the venue has none, and does not submit', async () => {
    const { posts } = setup('owner', { creds: [] })
    await ready()
    change(/^Where it trades/, 'live')
    expect(await screen.findByRole('link', { name: 'Exchange accounts' })).toHaveAttribute('href', `/w/${WS}/credentials`)
    fireEvent.click(screen.getByRole('button', { name: 'Create' }))
    expect(await screen.findByText('Choose an exchange account of this venue.')).toBeInTheDocument()
    expect(posts).toEqual([])
  })

  it('shows validation messages inline and sends nothing', async () => {
    const { posts } = setup('analyst')
    await ready()
    change(/^Where it trades/, 'paper')
    change(/^Symbol/, 'BTCUSDT')
    change(/^Quote per trade/, '0')
    change(/^Warm-up bars/, '5')
    change(/^Max open orders/, '1.5')
    change(/^Max drawdown/, '150')
    fireEvent.click(screen.getByRole('button', { name: 'Create' }))
    expect(await screen.findByText('BASE/QUOTE, e.g. BTC/USDT.')).toBeInTheDocument()
    expect(screen.getByText('A number above 0.')).toBeInTheDocument()
    expect(screen.getByText('A whole number from 10 to 5000.')).toBeInTheDocument()
    expect(screen.getByText('Must be a whole number, at least 1.')).toBeInTheDocument()
    expect(screen.getByText('Must be at most 100 (percent).')).toBeInTheDocument()
    expect(posts).toEqual([])
  })

  it("shows the server's error", async () => {
    setup('analyst')
    await ready()
    vi.mocked(fetch).mockImplementationOnce(() => json({ code: 'conflict', message: 'a bot named my bot already exists' }, 409))
    fireEvent.click(screen.getByRole('button', { name: 'Create' }))
    await waitFor(() => expect(screen.getByRole('alert')).toHaveTextContent('a bot named my bot already exists'))
    expect(screen.queryByText('bot page')).not.toBeInTheDocument()
  })

  it('does not offer live trading to an analyst', async () => {
    setup('analyst')
    await ready()
    const where = screen.getByLabelText(/^Where it trades/)
    expect(within(where).getAllByRole('option').map((o) => (o as HTMLOptionElement).value)).toEqual(['replay', 'paper'])
    expect(screen.queryByText(/places real orders/)).not.toBeInTheDocument()
    expect(screen.queryByLabelText(/^Exchange account/)).not.toBeInTheDocument()
  })
})
