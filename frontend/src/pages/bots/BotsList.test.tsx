import { QueryClient, QueryClientProvider, timeoutManager } from '@tanstack/react-query'
import { act, render, screen, waitFor, within } from '@testing-library/react'
import { createMemoryRouter, RouterProvider } from 'react-router'
import type { Bot } from '../../lib/bots'
import { WorkspaceProvider, type Me } from '../../session'
import { FakeSocket } from '../../testing/fakeSocket'
import { BotsList } from './BotsList'

// The query's polling intervals still running (set through react-query's timer provider).
const intervals = new Map<unknown, number>()
timeoutManager.setTimeoutProvider({
  setTimeout: (cb, ms) => setTimeout(cb, ms),
  clearTimeout: (id) => clearTimeout(id),
  setInterval: (cb, ms) => {
    const id = setInterval(cb, ms)
    intervals.set(id, ms ?? 0)
    return id
  },
  clearInterval: (id) => {
    intervals.delete(id)
    clearInterval(id)
  },
})

/** A socket that never gets through (the server is unreachable). */
class DeadSocket extends FakeSocket {
  send(s: string) {
    this.sent.push(s)
  }
}

const WS = 'ws1'
const me: Me = {
  user: { id: 'u1', email: 'a@b.c', is_admin: false, created_at: 0 },
  workspaces: [{ workspace_id: WS, name: 'Team', role: 'trader', personal: false }],
  totp_enabled: false,
}

const summary = (fills: number, pnl: number) => ({ bar: 5, bars: 10, equity: 10000 + pnl, pnl, initial_cash: '10000', fills, symbol: 'BTC/USDT', timeframe: '1h', started_at: 1 })

function bot(id: string, over: Partial<Bot> = {}): Bot {
  return {
    id,
    workspace_id: WS,
    name: `bot ${id}`,
    mode: 'paper',
    venue: 'replay',
    config: { run: { strategy: 'sma_cross', symbol: 'BTC/USDT', timeframe: '1h' } } as never,
    state: 'running',
    desired: 'running',
    fence: 1,
    settings_rev: 0,
    summary: summary(1, 0) as never,
    created_at: id === 'b1' ? 20 : 10,
    updated_at: 100,
    ...over,
  }
}

function setup(bots: Bot[], socket: typeof FakeSocket = FakeSocket) {
  const reads: string[] = []
  vi.stubGlobal('WebSocket', socket)
  vi.stubGlobal(
    'fetch',
    vi.fn((url: string) => {
      if (url.endsWith(`/workspaces/${WS}/bots`)) reads.push(url)
      const body = url.endsWith(`/workspaces/${WS}/bots`) ? bots : url.includes('/strategies') ? { items: [], limit: 500, offset: 0 } : null
      return Promise.resolve(new Response(JSON.stringify(body), { status: body ? 200 : 404, headers: { 'Content-Type': 'application/json' } }))
    }),
  )
  const router = createMemoryRouter([{ path: '/w/:ws/bots', element: <WorkspaceProvider me={me}><BotsList /></WorkspaceProvider> }], {
    initialEntries: [`/w/${WS}/bots`],
  })
  render(
    <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
      <RouterProvider router={router} />
    </QueryClientProvider>,
  )
  return reads
}

const row = (name: string) => screen.getAllByRole('row').find((r) => r.getAttribute('data-bot') === name)!
const channel = `workspace:${WS}`
const push = (b: Bot) => act(() => FakeSocket.on(channel)!.push({ type: 'event', channel, event: 'bot', data: b }))
/** The socket subscribed, and the list read again after it (events are not replayed). */
async function connected(reads: string[]) {
  await waitFor(() => expect(FakeSocket.on(channel)).toBeDefined())
  await waitFor(() => expect(reads.length).toBeGreaterThanOrEqual(2))
  await screen.findByRole('row', { name: /bot b1/ })
}

afterEach(() => {
  vi.unstubAllGlobals()
  FakeSocket.reset()
})

describe('BotsList', () => {
  it('updates its rows from the bot events of the workspace channel', async () => {
    const reads = setup([bot('b1'), bot('b2', { state: 'paused', desired: 'paused' })])
    await connected(reads)
    expect(FakeSocket.on(channel)!.url).toMatch(/\/api\/ws$/)
    expect(row('bot b1')).toHaveTextContent('running')

    // New numbers and a new state, pushed: no re-read.
    const before = reads.length
    push(bot('b1', { state: 'paused', desired: 'paused', summary: summary(7, 12.5) as never, updated_at: 200 }))
    await waitFor(() => expect(row('bot b1')).toHaveTextContent('paused'))
    expect(row('bot b1')).toHaveTextContent('+12.50')
    expect(within(row('bot b1')).getAllByRole('cell')[7]).toHaveTextContent('7')
    expect(within(row('bot b1')).getByRole('button', { name: 'Resume bot b1' })).toBeInTheDocument()

    // An older copy arriving late changes nothing.
    push(bot('b1', { state: 'running', updated_at: 150 }))
    expect(row('bot b1')).toHaveTextContent('paused')

    // A bot created elsewhere appears where the server lists it (newest first).
    push(bot('b3', { created_at: 30, updated_at: 210 }))
    await waitFor(() => expect(screen.getAllByRole('row').slice(1).map((r) => r.getAttribute('data-bot'))).toEqual(['bot b3', 'bot b1', 'bot b2']))
    expect(reads.length).toBe(before)
  })

  it('does not poll while the websocket is connected, and polls while it reconnects', async () => {
    const reads = setup([bot('b1'), bot('b2')])
    await connected(reads)
    await waitFor(() => expect([...intervals.values()]).not.toContain(2000))
    // The server drops the connection: poll until the socket is back (it retries after 0.5 s).
    act(() => FakeSocket.on(channel)!.drop())
    expect([...intervals.values()]).toContain(2000)
    const n = reads.length
    await waitFor(() => expect(FakeSocket.on(channel)).toBeDefined())
    await waitFor(() => expect([...intervals.values()]).not.toContain(2000))
    await waitFor(() => expect(reads.length).toBe(n + 1)) // read again on reconnecting
  })

  it('polls every 2 s while a bot is active and the websocket is not connected', async () => {
    setup([bot('b1'), bot('b2')], DeadSocket)
    await screen.findByRole('row', { name: /bot b1/ })
    await waitFor(() => expect([...intervals.values()]).toContain(2000))
  })

  it('shows a bot cancelling its orders to stop as stopping, with no Start', async () => {
    const reads = setup([bot('b1', { mode: 'live', venue: 'binance', desired: 'cancel' }), bot('b2', { state: 'stopped', desired: 'stopped' })])
    await connected(reads)
    expect(within(row('bot b1')).getByTestId('bot-pending')).toHaveTextContent('→ stopping, cancelling orders')
    expect(within(row('bot b1')).queryAllByRole('button')).toEqual([])
    // Once stopped (pushed), it can start again.
    push(bot('b1', { mode: 'live', venue: 'binance', state: 'stopped', desired: 'stopped', updated_at: 300 }))
    expect(await within(row('bot b1')).findByRole('button', { name: 'Start bot b1' })).toBeInTheDocument()
    expect(within(row('bot b1')).queryByTestId('bot-pending')).not.toBeInTheDocument()
  })
})
