// Members of the workspace: roles (owners change them and remove people), invitation links
// and pending invitations; and the page that accepts an invitation link.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { useEffect, useRef, useState } from 'react'
import { Link, useNavigate, useParams } from 'react-router'
import { api, ApiError, type Invitation, type Member, type Role, type Schemas } from '../../api/client'
import { Badge, Button, Card, EmptyState, ErrorBox, Field, Input, PageTitle, Select, Spinner } from '../../components/ui'
import { formatTime } from '../../lib/format'
import { useMe, useWorkspace, useWsBase } from '../../session'

const ROLES: Role[] = ['owner', 'trader', 'analyst', 'viewer']
const ROLE_HELP: Record<Role, string> = {
  owner: 'everything, including members',
  trader: 'analyst, plus live bots',
  analyst: 'datasets, strategies, backtests',
  viewer: 'read only',
}

export function MembersPage() {
  const base = useWsBase()
  const ws = useWorkspace()
  const me = useMe().data
  const qc = useQueryClient()
  const members = useQuery({ queryKey: ['members', ws.id], queryFn: () => api.get<Member[]>(`${base}/members`) })
  const refresh = () => qc.invalidateQueries({ queryKey: ['members', ws.id] })
  const setRole = useMutation({
    mutationFn: ({ user, role }: { user: string; role: Role }) => api.put(`${base}/members/${user}`, { role }),
    onSettled: refresh,
  })
  const remove = useMutation({
    mutationFn: (user: string) => api.del(`${base}/members/${user}`),
    onSettled: refresh,
  })
  return (
    <div>
      <PageTitle>Members</PageTitle>
      {!ws.isOwner && (
        <p className="mb-4 rounded-md border border-slate-700 bg-slate-900 px-3 py-2 text-sm text-slate-400" data-testid="read-only-note">
          Only owners can change roles, remove members and invite people. You are {ws.role === 'analyst' ? 'an' : 'a'} {ws.role} here.
        </p>
      )}
      <ErrorBox error={setRole.error ?? remove.error} />
      {members.isPending ? (
        <Spinner />
      ) : members.error ? (
        <ErrorBox error={members.error} />
      ) : (
        <div className="relative overflow-x-auto rounded-lg border border-slate-800">
          <table className="min-w-full text-sm">
            <thead className="bg-slate-900 text-left text-xs uppercase tracking-wide text-slate-400">
              <tr>
                <th className="px-3 py-2">Email</th>
                <th className="px-3 py-2">Role</th>
                <th className="px-3 py-2">Joined (UTC)</th>
                {ws.isOwner && (
                  <th className="px-3 py-2">
                    <span className="sr-only">Actions</span>
                  </th>
                )}
              </tr>
            </thead>
            <tbody>
              {members.data.map((m) => (
                <tr key={m.user_id} className="border-t border-slate-800">
                  <td className="whitespace-nowrap px-3 py-2">
                    {m.email} {m.user_id === me?.user.id && <Badge tone="sky">you</Badge>}
                  </td>
                  <td className="px-3 py-2">
                    {ws.isOwner ? (
                      <Select
                        aria-label={`Role of ${m.email}`}
                        value={m.role}
                        disabled={setRole.isPending}
                        onChange={(e) => setRole.mutate({ user: m.user_id, role: e.target.value as Role })}
                      >
                        {ROLES.map((r) => (
                          <option key={r} value={r}>
                            {r}
                          </option>
                        ))}
                      </Select>
                    ) : (
                      <Badge>{m.role}</Badge>
                    )}
                  </td>
                  <td className="num whitespace-nowrap px-3 py-2 text-slate-400">{formatTime(m.joined_at)}</td>
                  {ws.isOwner && (
                    <td className="px-3 py-2 text-right">
                      {m.user_id !== me?.user.id && (
                        <Button
                          variant="ghost"
                          aria-label={`Remove ${m.email}`}
                          disabled={remove.isPending}
                          onClick={() => {
                            if (window.confirm(`Remove ${m.email} from ${ws.name}?`)) remove.mutate(m.user_id)
                          }}
                        >
                          Remove
                        </Button>
                      )}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {ws.isOwner && <Invitations />}
    </div>
  )
}

function Invitations() {
  const base = useWsBase()
  const ws = useWorkspace()
  const qc = useQueryClient()
  const [role, setRole] = useState<Role>('viewer')
  const [copied, setCopied] = useState(false)
  const list = useQuery({ queryKey: ['invitations', ws.id], queryFn: () => api.get<Invitation[]>(`${base}/invitations`) })
  const refresh = () => qc.invalidateQueries({ queryKey: ['invitations', ws.id] })
  const create = useMutation({
    mutationFn: () => api.post<Schemas['CreatedInvitation']>(`${base}/invitations`, { role }),
    onSuccess: () => {
      setCopied(false)
      refresh()
    },
  })
  const withdraw = useMutation({ mutationFn: (id: string) => api.del(`${base}/invitations/${id}`), onSettled: refresh })
  const link = create.data ? `${window.location.origin}/invite/${create.data.token}` : ''
  const now = Date.now()
  const pending = (list.data ?? []).filter((i) => !i.accepted_at && i.expires_at > now)
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(link)
      setCopied(true)
    } catch {
      (document.getElementById('invite-link') as HTMLInputElement | null)?.select() // clipboard blocked (http, permissions): leave it selected to copy by hand
    }
  }
  return (
    <div className="mt-6 grid gap-4 lg:grid-cols-2">
      <Card title="Invite someone">
        <form
          className="flex flex-col gap-3"
          onSubmit={(e) => {
            e.preventDefault()
            create.mutate()
          }}
        >
          <Field label="Role" hint={ROLE_HELP[role]}>
            <Select aria-label="Invitee role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
              {ROLES.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </Select>
          </Field>
          <ErrorBox error={create.error} />
          <div>
            <Button type="submit" disabled={create.isPending}>
              {create.isPending ? 'Creating…' : 'Create invitation link'}
            </Button>
          </div>
        </form>
        {link && (
          <div className="mt-4 flex flex-col gap-1">
            <label className="text-sm text-slate-300" htmlFor="invite-link">
              Invitation link ({create.data?.invitation.role}, one use, shown once)
            </label>
            <div className="flex gap-2">
              <Input id="invite-link" readOnly value={link} className="min-w-0 flex-1 font-mono" onFocus={(e) => e.currentTarget.select()} />
              <Button variant="secondary" onClick={copy}>
                {copied ? 'Copied' : 'Copy'}
              </Button>
            </div>
            <p className="text-xs text-slate-500">Valid until {formatTime(create.data?.invitation.expires_at)} UTC. The invitee signs in (or signs up) and joins.</p>
          </div>
        )}
      </Card>
      <Card title="Pending invitations">
        <ErrorBox error={withdraw.error ?? list.error} />
        {list.isPending ? (
          <Spinner />
        ) : pending.length === 0 ? (
          <EmptyState title="No pending invitations" />
        ) : (
          <ul className="flex flex-col divide-y divide-slate-800">
            {pending.map((i) => (
              <li key={i.id} className="flex flex-wrap items-center justify-between gap-2 py-2 text-sm">
                <span>
                  <Badge>{i.role}</Badge> <span className="text-slate-400">made {formatTime(i.created_at)}, expires {formatTime(i.expires_at)} UTC</span>
                </span>
                <Button variant="ghost" aria-label={`Withdraw ${i.role} invitation made ${formatTime(i.created_at)}`} disabled={withdraw.isPending} onClick={() => withdraw.mutate(i.id)}>
                  Withdraw
                </Button>
              </li>
            ))}
          </ul>
        )}
      </Card>
    </div>
  )
}

function inviteError(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.status === 404) return 'This invitation link is unknown or was withdrawn. Ask the workspace owner for a new one.'
    if (e.status === 409) return 'This invitation link was already used or has expired. Ask the workspace owner for a new one.'
    if (e.status === 410 || e.code === 'gone') return 'This invitation has expired. Ask the workspace owner for a new link.'
    return e.message
  }
  return 'The invitation could not be accepted.'
}

export function InviteAcceptPage() {
  const { token } = useParams()
  const qc = useQueryClient()
  const navigate = useNavigate()
  const accept = useMutation({
    mutationFn: () => api.post<Schemas['Joined']>(`/api/invitations/${token}/accept`),
    onSuccess: async (j) => {
      await qc.invalidateQueries({ queryKey: ['me'] })
      navigate(`/w/${j.workspace_id}/datasets`, { replace: true })
    },
  })
  const started = useRef(false)
  useEffect(() => {
    if (started.current) return // StrictMode runs effects twice; an invitation is one-use
    started.current = true
    accept.mutate()
  }, [accept])
  return (
    <main className="flex min-h-screen items-center justify-center p-4">
      <div className="w-full max-w-md rounded-lg border border-slate-800 bg-slate-900 p-6">
        <div className="mb-1 text-2xl font-bold text-sky-400">SKEET</div>
        <h1 className="mb-4 text-lg text-slate-200">Joining a workspace</h1>
        {accept.isError ? (
          <div className="flex flex-col gap-3">
            <div role="alert" className="rounded-md border border-rose-800 bg-rose-950/60 px-3 py-2 text-sm text-rose-200">
              {inviteError(accept.error)}
            </div>
            <Link className="text-sm text-sky-400 hover:underline" to="/">
              Go to your workspaces
            </Link>
          </div>
        ) : (
          <Spinner label="Accepting the invitation" />
        )}
      </div>
    </main>
  )
}
