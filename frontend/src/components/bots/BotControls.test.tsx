import { QueryClient, QueryClientProvider } from '@tanstack/react-query'
import { fireEvent, render, screen, waitFor, within } from '@testing-library/react'
import { createMemoryRouter, RouterProvider } from 'react-router'
import type { Role } from '../../api/client'
import type { Bot } from '../../lib/bots'
import { WorkspaceProvider, type Me } from '../../session'
import { BotControls, BotStateBadge } from './BotControls'

const WS = 'ws1'
const me = (role: Role): Me => ({
  user: { id: 'u1', email: 'a@b.c', is_admin: false, created_at: 0 },
  workspaces: [{ workspace_id: WS, name: 'Team', role, personal: false }],
  totp_enabled: false,
})
const bot = (state: string, desired: string, over: Partial<Bot> = {}): Bot => ({
  id: 'b1',
  workspace_id: WS,
  name: 'alpha',
  mode: 'paper',
  venue: 'replay',
  config: {} as never,
  state,
  desired,
  fence: 0,
  settings_rev: 0,
  summary: {} as never,
  created_at: 0,
  updated_at: 0,
  ...over,
})
/** A live bot on a venue (its orders are at the venue). */
const liveBot = (state: string, desired: string) => bot(state, desired, { mode: 'live', venue: 'binance' })

function json(body: unknown, status = 200) {
  return Promise.resolve(new Response(status === 204 ? null : JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } }))
}

function setup(b: Bot, role: Role = 'analyst', onDeleted = () => {}) {
  const calls: string[] = []
  vi.stubGlobal(
    'fetch',
    vi.fn((url: string, init?: RequestInit) => {
      calls.push(`${init?.method ?? 'GET'} ${url}`)
      if (init?.method === 'DELETE') return json(null, 204)
      if (url.endsWith('/start')) return json({ ...b, desired: 'running' })
      if (url.endsWith('/pause')) return json({ ...b, desired: 'paused' })
      if (url.includes('/stop')) return json({ ...b, desired: b.venue !== 'replay' && !url.includes('cancel_orders=false') ? 'cancel' : 'stopped' })
      return json({ code: 'not_found', message: 'no' }, 404)
    }),
  )
  const router = createMemoryRouter(
    [{ path: '/w/:ws/bots/:id', element: <WorkspaceProvider me={me(role)}><BotControls bot={b} onDeleted={onDeleted} /></WorkspaceProvider> }],
    { initialEntries: [`/w/${WS}/bots/b1`] },
  )
  render(
    <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
      <RouterProvider router={router} />
    </QueryClientProvider>,
  )
  return calls
}

const buttons = () => screen.queryAllByRole('button').map((b) => b.textContent)

afterEach(() => vi.unstubAllGlobals())

describe('BotControls', () => {
  it('shows Start and Delete on a stopped bot and sends start', async () => {
    const calls = setup(bot('stopped', 'stopped'))
    expect(buttons()).toEqual(['Start', 'Delete'])
    fireEvent.click(screen.getByRole('button', { name: 'Start' }))
    await waitFor(() => expect(calls).toContain('POST /api/workspaces/ws1/bots/b1/start'))
  })

  it('shows Pause, Flatten and Stop on a running bot', async () => {
    const calls = setup(bot('running', 'running'))
    expect(buttons()).toEqual(['Pause', 'Flatten', 'Stop'])
    // Flatten asks first: a market order closes the position.
    const confirm = vi.spyOn(window, 'confirm').mockReturnValue(true)
    fireEvent.click(screen.getByRole('button', { name: 'Flatten' }))
    expect(confirm).toHaveBeenCalled()
    await waitFor(() => expect(calls).toContain('POST /api/workspaces/ws1/bots/b1/flatten'))
    confirm.mockRestore()
  })

  it('shows Resume and Stop on a paused bot', async () => {
    const calls = setup(bot('paused', 'paused'))
    expect(buttons()).toEqual(['Resume', 'Flatten', 'Stop'])
    fireEvent.click(screen.getByRole('button', { name: 'Stop' }))
    await waitFor(() => expect(calls).toContain('POST /api/workspaces/ws1/bots/b1/stop'))
  })

  it('stops a replayed bot in one click, with no question', async () => {
    const calls = setup(bot('running', 'running'))
    fireEvent.click(screen.getByRole('button', { name: 'Stop' }))
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument()
    await waitFor(() => expect(calls).toContain('POST /api/workspaces/ws1/bots/b1/stop'))
    expect(calls.filter((c) => c.includes('/stop'))).toEqual(['POST /api/workspaces/ws1/bots/b1/stop'])
  })

  it('asks a bot on a venue whether to cancel its orders, cancelling them by default', async () => {
    const calls = setup(liveBot('running', 'running'))
    fireEvent.click(screen.getByRole('button', { name: 'Stop' }))
    const dialog = screen.getByRole('dialog')
    expect(dialog).toHaveTextContent('Stop alpha?')
    expect(within(dialog).getAllByRole('button').map((b) => b.textContent)).toEqual(['Cancel', 'Stop, leave orders working', 'Stop and cancel open orders'])
    expect(calls.filter((c) => c.startsWith('POST'))).toEqual([])
    fireEvent.click(within(dialog).getByRole('button', { name: 'Stop and cancel open orders' }))
    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument())
    expect(calls.filter((c) => c.startsWith('POST'))).toEqual(['POST /api/workspaces/ws1/bots/b1/stop'])
  })

  it('stops a bot on a venue leaving its orders working when asked', async () => {
    const calls = setup(bot('paused', 'paused', { venue: 'binance' })) // paper on a venue's data
    fireEvent.click(screen.getByRole('button', { name: 'Stop' }))
    fireEvent.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Stop, leave orders working' }))
    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument())
    expect(calls.filter((c) => c.startsWith('POST'))).toEqual(['POST /api/workspaces/ws1/bots/b1/stop?cancel_orders=false'])
  })

  it('sends nothing when the stop question is cancelled', () => {
    const calls = setup(liveBot('running', 'running'))
    fireEvent.click(screen.getByRole('button', { name: 'Stop' }))
    fireEvent.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Cancel' }))
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument()
    fireEvent.click(screen.getByRole('button', { name: 'Stop' }))
    fireEvent.keyDown(window, { key: 'Escape' })
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument()
    expect(calls.filter((c) => c.startsWith('POST'))).toEqual([])
  })

  it('offers nothing while a bot cancels its orders to stop (no Start yet)', () => {
    setup(liveBot('running', 'cancel'), 'owner')
    expect(buttons()).toEqual([])
  })

  it('offers only Delete on a finished bot, after a confirmation', async () => {
    const onDeleted = vi.fn()
    const calls = setup(bot('finished', 'stopped'), 'owner', onDeleted)
    expect(buttons()).toEqual(['Delete'])
    fireEvent.click(screen.getByRole('button', { name: 'Delete' }))
    const dialog = screen.getByRole('dialog')
    expect(dialog).toHaveTextContent('Delete alpha?')
    expect(calls.filter((c) => c.startsWith('DELETE'))).toEqual([])
    fireEvent.click(screen.getByRole('button', { name: 'Delete bot' }))
    await waitFor(() => expect(onDeleted).toHaveBeenCalled())
    expect(calls).toContain('DELETE /api/workspaces/ws1/bots/b1')
  })

  it('gives viewers no controls, with a note', () => {
    setup(bot('running', 'running'), 'viewer')
    expect(buttons()).toEqual([])
    expect(screen.getByText('Viewers cannot control bots.')).toBeInTheDocument()
  })
})

describe('BotStateBadge', () => {
  it('colours the state', () => {
    render(<BotStateBadge state="running" testId="s" />)
    expect(screen.getByTestId('s')).toHaveTextContent('running')
    expect(screen.getByText('running').className).toContain('emerald')
  })
})
