import { QueryClient, QueryClientProvider } from '@tanstack/react-query'
import { fireEvent, render, screen, waitFor } from '@testing-library/react'
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
const bot = (state: string, desired: string): Bot => ({
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
})

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
      if (url.endsWith('/stop')) return json({ ...b, desired: 'stopped' })
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
