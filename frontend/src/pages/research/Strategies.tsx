// Strategies: the list, and a new strategy from a template or from a minimal SMA cross.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { Link, useNavigate } from 'react-router'
import { api, type Page, type Strategy, type Template } from '../../api/client'
import { minimalSpec } from '../../components/research/spec'
import { Button, Card, EmptyState, ErrorBox, Field, Input, PageTitle, Select, Spinner } from '../../components/ui'
import { formatTime } from '../../lib/format'
import { useWorkspace, useWsBase } from '../../session'

export function StrategiesPage() {
  const base = useWsBase()
  const ws = useWorkspace()
  const q = useQuery({ queryKey: ['strategies', ws.id], queryFn: () => api.get<Page<Strategy>>(`${base}/strategies?limit=500`) })
  return (
    <div>
      <PageTitle
        actions={
          ws.canWrite ? (
            <Link to="new" className="rounded-md bg-sky-600 px-3 py-1.5 text-sm font-medium text-white hover:bg-sky-500">
              New strategy
            </Link>
          ) : undefined
        }
      >
        Strategies
      </PageTitle>
      {!ws.canWrite && <ReadOnlyNote />}
      {q.isPending ? (
        <Spinner />
      ) : q.error ? (
        <ErrorBox error={q.error} />
      ) : q.data.items.length === 0 ? (
        <EmptyState title="No strategies yet">{ws.canWrite ? 'Create one from a template or with the visual builder.' : 'Nothing has been created in this workspace yet.'}</EmptyState>
      ) : (
        <div className="relative overflow-x-auto rounded-lg border border-slate-800">
          <table className="min-w-full text-sm">
            <thead className="bg-slate-900 text-left text-xs uppercase tracking-wide text-slate-400">
              <tr>
                <th className="px-3 py-2">Name</th>
                <th className="px-3 py-2">Latest version</th>
                <th className="px-3 py-2">Updated (UTC)</th>
              </tr>
            </thead>
            <tbody>
              {q.data.items.map((s) => (
                <tr key={s.id} className="border-t border-slate-800 hover:bg-slate-900/60">
                  <td className="whitespace-nowrap px-3 py-2">
                    <Link className="text-sky-400 hover:underline" to={s.id}>
                      {s.name}
                    </Link>
                  </td>
                  <td className="num px-3 py-2">v{s.latest_version}</td>
                  <td className="num whitespace-nowrap px-3 py-2 text-slate-400">{formatTime(s.updated_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  )
}

export function ReadOnlyNote({ children }: { children?: React.ReactNode }) {
  return (
    <p className="mb-4 rounded-md border border-slate-700 bg-slate-900 px-3 py-2 text-sm text-slate-400" data-testid="read-only-note">
      {children ?? 'You are a viewer in this workspace: you can look at everything but not change it. Ask an owner for another role.'}
    </p>
  )
}

const BLANK = '__blank__'

export function NewStrategyPage() {
  const base = useWsBase()
  const ws = useWorkspace()
  const qc = useQueryClient()
  const navigate = useNavigate()
  const [name, setName] = useState('')
  const [template, setTemplate] = useState(BLANK)
  const templates = useQuery({ queryKey: ['templates'], queryFn: () => api.get<Template[]>('/api/templates'), staleTime: Infinity })
  const create = useMutation({
    mutationFn: () =>
      api.post<Strategy>(
        `${base}/strategies`,
        template === BLANK ? { name, spec: minimalSpec(name.trim().toLowerCase().replace(/[^a-z0-9_]+/g, '_').replace(/^_+|_+$/g, '')) } : { name, template },
      ),
    onSuccess: async (s) => {
      await qc.invalidateQueries({ queryKey: ['strategies', ws.id] })
      navigate(`../${s.id}`, { relative: 'path' })
    },
  })
  if (!ws.canWrite) return <ReadOnlyNote />
  const chosen = templates.data?.find((t) => t.name === template)
  return (
    <div className="max-w-xl">
      <PageTitle>New strategy</PageTitle>
      <Card>
        <form
          className="flex flex-col gap-3"
          onSubmit={(e) => {
            e.preventDefault()
            create.mutate()
          }}
        >
          <Field label="Name" hint="Unique in this workspace">
            <Input required maxLength={100} value={name} onChange={(e) => setName(e.target.value)} />
          </Field>
          <Field label="Start from">
            <Select value={template} onChange={(e) => setTemplate(e.target.value)}>
              <option value={BLANK}>Blank: one SMA cross (build the rest visually)</option>
              {templates.data?.map((t) => (
                <option key={t.name} value={t.name}>
                  Template: {t.name}
                </option>
              ))}
            </Select>
          </Field>
          {templates.error && <ErrorBox error={templates.error} />}
          <p className="text-sm text-slate-400">{chosen ? chosen.description : 'A minimal valid spec: long when sma(close, $fast) crosses above sma(close, $slow).'}</p>
          <ErrorBox error={create.error} />
          <div>
            <Button type="submit" disabled={create.isPending || !name.trim()}>
              {create.isPending ? 'Creating…' : 'Create strategy'}
            </Button>
          </div>
        </form>
      </Card>
    </div>
  )
}
