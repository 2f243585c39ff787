import { QueryClient, QueryClientProvider } from '@tanstack/react-query'
import { fireEvent, render, screen, waitFor } from '@testing-library/react'
import { createMemoryRouter, RouterProvider } from 'react-router'
import { WorkspaceProvider, type Me } from '../../session'
import { NewBacktest } from './NewBacktest'

const WS = 'ws1'
const me: Me = {
  user: { id: 'u1', email: 'a@b.c', is_admin: false, created_at: 0 },
  workspaces: [{ workspace_id: WS, name: 'Team', role: 'analyst', personal: false }],
  totp_enabled: false,
}
const sma = { name: 'sma_cross', parameters: { fast: { int: [5, 50], step: 5, default: 10 }, slow: { int: [20, 200], step: 10, default: 30 } } }
const strategies = { items: [{ id: 's1', workspace_id: WS, name: 'SMA crossover', latest_version: 2, created_at: 0, updated_at: 0, spec: sma }], limit: 500, offset: 0 }
const versions = [
  { strategy_id: 's1', version: 1, spec: sma, spec_hash: 'h1', created_at: 0, created_by: 'u1' },
  { strategy_id: 's1', version: 2, spec: sma, spec_hash: 'h2', created_at: 0, created_by: 'u1' },
]
const datasets = {
  items: [{ id: 'd1', workspace_id: WS, name: 'Demo BTC/USDT 1h', venue: 'synthetic', symbol: 'BTC/USDT', timeframe: '1h', bars: 17520, first_ts: 0, last_ts: 0, data_hash: 'x', created_at: 0, updated_at: 0 }],
  limit: 500,
  offset: 0,
}

function json(body: unknown, status = 200) {
  return Promise.resolve(new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } }))
}

function setup(post: (body: unknown) => Promise<Response>) {
  const fetchMock = vi.fn((url: string, init?: RequestInit) => {
    if (init?.method === 'POST') return post(JSON.parse(String(init.body)))
    if (url.includes('/versions')) return json(versions)
    if (url.includes('/strategies')) return json(strategies)
    if (url.includes('/datasets')) return json(datasets)
    if (url.includes('/api/templates')) return json([{ name: 'ema_cross', description: '', spec: { parameters: {} } }])
    return json({ code: 'not_found', message: 'no' }, 404)
  })
  vi.stubGlobal('fetch', fetchMock)
  const router = createMemoryRouter(
    [
      { path: '/w/:ws/backtests/new', element: <WorkspaceProvider me={me}><NewBacktest /></WorkspaceProvider> },
      { path: '/w/:ws/backtests/:id', element: <p>backtest page</p> },
    ],
    { initialEntries: [`/w/${WS}/backtests/new`] },
  )
  render(
    <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
      <RouterProvider router={router} />
    </QueryClientProvider>,
  )
  return fetchMock
}

afterEach(() => vi.unstubAllGlobals())

describe('NewBacktest', () => {
  it('prefills the spec defaults and submits the run', async () => {
    let sent: unknown
    setup((b) => {
      sent = b
      return json({ id: 'job1', state: 'queued' }, 202)
    })
    await waitFor(() => expect(screen.getByLabelText(/^fast/)).toHaveValue(10))
    expect(screen.getByLabelText(/^slow/)).toHaveValue(30)
    expect(screen.getByLabelText(/^Dataset/)).toHaveValue('d1')
    fireEvent.change(screen.getByLabelText(/^Version/), { target: { value: '1' } })
    fireEvent.change(screen.getByLabelText(/^fast/), { target: { value: '15' } })
    fireEvent.change(screen.getByLabelText(/^Fill model/), { target: { value: 'close' } })
    fireEvent.click(screen.getByRole('button', { name: 'Run backtest' }))
    expect(await screen.findByText('backtest page')).toBeInTheDocument()
    expect(sent).toEqual({ strategy_id: 's1', strategy_version: 1, dataset: 'd1', params: { fast: 15, slow: 30 }, cash: '10000', commission: '0.001', fill: 'close' })
  })

  it("shows the server's message inline", async () => {
    setup(() => json({ code: 'bad_request', message: 'params: parameters.fast: 100 is outside its range 5..50' }, 400))
    await waitFor(() => expect(screen.getByLabelText(/^fast/)).toHaveValue(10))
    fireEvent.click(screen.getByRole('button', { name: 'Run backtest' }))
    await waitFor(() => expect(screen.getByRole('alert')).toHaveTextContent('parameters.fast: 100 is outside its range 5..50'))
    expect(screen.queryByText('backtest page')).not.toBeInTheDocument()
  })
})
