// Exchange accounts (credentials) of the workspace. Owners add and remove them; owners and
// traders can test one (the server asks the venue what the key may do and warns about
// withdrawal rights); everyone sees them masked. A secret is sent once, cleared from the form at once, and never shown again: the
// server keeps it sealed in the vault and answers with the masked API key only.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { useState, type FormEvent } from 'react'
import { api, type Schemas } from '../../api/client'
import { Badge, Button, Card, EmptyState, ErrorBox, Field, Input, PageTitle, Select, Spinner } from '../../components/ui'
import { formatTime } from '../../lib/format'
import { useWorkspace, useWsBase } from '../../session'

type Credential = Schemas['Credential']
type TestResult = Schemas['TestResult']

function TestOutcome({ result }: { result: TestResult }) {
  if (!result.ok) {
    return (
      <div className="mt-1 text-xs text-red-300" role="status">
        Connection failed: {result.error}
      </div>
    )
  }
  const p = result.permissions
  return (
    <div className="mt-1 flex flex-wrap items-center gap-1 text-xs" role="status">
      <Badge tone="green">connected</Badge>
      {p && (
        <>
          <Badge tone={p.read ? 'sky' : 'slate'}>{p.read ? 'read' : 'no read'}</Badge>
          <Badge tone={p.trade ? 'sky' : 'amber'}>{p.trade ? 'trade' : 'no trade'}</Badge>
          <Badge tone={p.withdraw ? 'red' : 'slate'}>{p.withdraw ? 'withdraw enabled' : 'no withdraw'}</Badge>
        </>
      )}
      {result.warnings.map((w) => (
        <span key={w} className="basis-full text-amber-300">
          ⚠ {w}
        </span>
      ))}
    </div>
  )
}

const VENUES = ['binance', 'kraken', 'coinbase', 'alpaca'] as const

export function CredentialsPage() {
  const base = useWsBase()
  const ws = useWorkspace()
  const qc = useQueryClient()
  const key = ['credentials', ws.id]
  const list = useQuery({ queryKey: key, queryFn: () => api.get<Credential[]>(`${base}/credentials`) })
  const [venue, setVenue] = useState<string>('binance')
  const [label, setLabel] = useState('')
  const [apiKey, setApiKey] = useState('')
  const [apiSecret, setApiSecret] = useState('')
  const [passphrase, setPassphrase] = useState('')
  const add = useMutation({
    mutationFn: () =>
      api.post<Credential>(`${base}/credentials`, {
        venue,
        label,
        api_key: apiKey,
        api_secret: apiSecret,
        passphrase: passphrase || undefined,
      }),
    onSuccess: () => {
      setLabel('')
      setApiKey('')
      setPassphrase('')
      void qc.invalidateQueries({ queryKey: key })
    },
    // The secret leaves the page whatever the answer.
    onSettled: () => setApiSecret(''),
  })
  const [tested, setTested] = useState<Record<string, TestResult>>({})
  const canUse = ws.role === 'owner' || ws.role === 'trader'
  const test = useMutation({
    mutationFn: (id: string) => api.post<TestResult>(`${base}/credentials/${id}/test`, {}),
    onSuccess: (r, id) => setTested((t) => ({ ...t, [id]: r })),
  })
  const remove = useMutation({
    mutationFn: (id: string) => api.del(`${base}/credentials/${id}`),
    onSettled: () => qc.invalidateQueries({ queryKey: key }),
  })
  const submit = (e: FormEvent) => {
    e.preventDefault()
    add.mutate()
  }
  return (
    <div>
      <PageTitle>Exchange accounts</PageTitle>
      <p className="mb-4 max-w-3xl text-sm text-slate-400">
        API keys your bots trade with. Secrets are encrypted in the vault and never shown again, not even to owners; the
        list shows the API key masked. Give keys trading permission only, never withdrawals.
      </p>
      {!ws.isOwner && (
        <p className="mb-4 rounded-md border border-slate-700 bg-slate-900 px-3 py-2 text-sm text-slate-400" data-testid="read-only-note">
          Only owners add and remove credentials. You are {ws.role === 'analyst' ? 'an' : 'a'} {ws.role} here.
        </p>
      )}
      <ErrorBox error={remove.error ?? test.error} />
      {list.isPending ? (
        <Spinner />
      ) : list.error ? (
        <ErrorBox error={list.error} />
      ) : list.data.length === 0 ? (
        <EmptyState title="No credentials yet">{ws.isOwner ? 'Add an exchange API key below.' : 'An owner of this workspace can add one.'}</EmptyState>
      ) : (
        <div className="relative overflow-x-auto rounded-lg border border-slate-800">
          <table className="min-w-full text-sm">
            <thead className="bg-slate-900 text-left text-xs uppercase tracking-wide text-slate-400">
              <tr>
                <th className="px-3 py-2">Label</th>
                <th className="px-3 py-2">Venue</th>
                <th className="px-3 py-2">API key</th>
                <th className="px-3 py-2">Added (UTC)</th>
                {canUse && (
                  <th className="px-3 py-2">
                    <span className="sr-only">Actions</span>
                  </th>
                )}
              </tr>
            </thead>
            <tbody>
              {list.data.map((c) => (
                <tr key={c.id} className="border-t border-slate-800">
                  <td className="px-3 py-2 font-medium text-slate-100">
                    {c.label}
                    {tested[c.id] && <TestOutcome result={tested[c.id]} />}
                  </td>
                  <td className="px-3 py-2">{c.venue}</td>
                  <td className="px-3 py-2 font-mono text-slate-300">{c.api_key_masked}</td>
                  <td className="num whitespace-nowrap px-3 py-2 text-slate-400">{formatTime(c.created_at)}</td>
                  {canUse && (
                    <td className="whitespace-nowrap px-3 py-2 text-right">
                      <Button variant="ghost" disabled={test.isPending && test.variables === c.id} onClick={() => test.mutate(c.id)}>
                        {test.isPending && test.variables === c.id ? 'Testing…' : 'Test connection'}
                      </Button>
                      {ws.isOwner && (
                      <Button
                        variant="ghost"
                        onClick={() => {
                          if (window.confirm(`Remove the credential "${c.label}"? Bots using it stop trading.`)) remove.mutate(c.id)
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
      {ws.isOwner && (
        <Card title="Add a credential" className="mt-6 max-w-xl">
          <form className="flex flex-col gap-3" onSubmit={submit} aria-label="Add a credential">
            <div className="grid gap-3 sm:grid-cols-2">
              <Field label="Venue">
                <Select value={venue} onChange={(e) => setVenue(e.target.value)}>
                  {VENUES.map((v) => (
                    <option key={v} value={v}>
                      {v}
                    </option>
                  ))}
                </Select>
              </Field>
              <Field label="Label" hint="Unique in this workspace">
                <Input required value={label} onChange={(e) => setLabel(e.target.value)} />
              </Field>
            </div>
            <Field label="API key">
              <Input required autoComplete="off" spellCheck={false} value={apiKey} onChange={(e) => setApiKey(e.target.value)} />
            </Field>
            <Field label="API secret" hint="Sent once over this connection, then never shown">
              <Input required type="password" autoComplete="new-password" value={apiSecret} onChange={(e) => setApiSecret(e.target.value)} />
            </Field>
            <Field label="Passphrase (optional)">
              <Input type="password" autoComplete="new-password" value={passphrase} onChange={(e) => setPassphrase(e.target.value)} />
            </Field>
            <ErrorBox error={add.error} />
            <div>
              <Button type="submit" disabled={add.isPending}>
                {add.isPending ? 'Adding…' : 'Add credential'}
              </Button>
            </div>
          </form>
        </Card>
      )}
    </div>
  )
}
