// One strategy: the visual builder and the JSON editor over the same spec text, server-side
// validation, saving a new version, and the version history (old versions read-only).
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { Link, useParams } from 'react-router'
import { api, type Strategy, type StrategyVersion } from '../../api/client'
import { SpecBuilder } from '../../components/research/SpecBuilder'
import { SpecJsonEditor, useDebounced, useValidation } from '../../components/research/SpecJsonEditor'
import { specText, tryParseSpec } from '../../components/research/spec'
import { Badge, Button, Card, ErrorBox, PageTitle, Spinner } from '../../components/ui'
import { formatTime } from '../../lib/format'
import { useWorkspace, useWsBase } from '../../session'
import { ReadOnlyNote } from './Strategies'

export function StrategyDetailPage() {
  const { id } = useParams()
  const base = useWsBase()
  const ws = useWorkspace()
  const q = useQuery({ queryKey: ['strategy', ws.id, id], queryFn: () => api.get<Strategy>(`${base}/strategies/${id}`) })
  if (q.isPending) return <Spinner />
  if (q.error) return <ErrorBox error={q.error} />
  return <StrategyEditor key={`${q.data.id}:${q.data.latest_version}`} strategy={q.data} />
}

function StrategyEditor({ strategy }: { strategy: Strategy }) {
  const base = useWsBase()
  const ws = useWorkspace()
  const qc = useQueryClient()
  const saved = specText(strategy.spec)
  const [text, setText] = useState(saved)
  const [viewing, setViewing] = useState<number | null>(null)
  const validation = useValidation(text)
  const checked = useDebounced(text)
  const stale = checked !== text || validation.isFetching
  const spec = tryParseSpec(text)
  const dirty = text !== saved
  const readOnly = !ws.canWrite
  const versions = useQuery({
    queryKey: ['strategy-versions', ws.id, strategy.id],
    queryFn: () => api.get<StrategyVersion[]>(`${base}/strategies/${strategy.id}/versions`),
  })
  const save = useMutation({
    mutationFn: () => api.put<Strategy>(`${base}/strategies/${strategy.id}`, { spec: JSON.parse(text) }),
    onSuccess: async (s) => {
      qc.setQueryData(['strategy', ws.id, strategy.id], s)
      await Promise.all([
        qc.invalidateQueries({ queryKey: ['strategies', ws.id] }),
        qc.invalidateQueries({ queryKey: ['strategy-versions', ws.id, strategy.id] }),
      ])
    },
  })
  const canSave = !readOnly && dirty && !stale && validation.data?.valid === true && !save.isPending
  const old = viewing !== null ? versions.data?.find((v) => v.version === viewing) : undefined

  return (
    <div>
      <PageTitle
        actions={
          !readOnly && (
            <>
              {dirty && (
                <Button variant="ghost" onClick={() => setText(saved)} disabled={save.isPending}>
                  Discard changes
                </Button>
              )}
              <Button onClick={() => save.mutate()} disabled={!canSave} title={dirty ? undefined : 'No changes to save'}>
                {save.isPending ? 'Saving…' : `Save as v${strategy.latest_version + 1}`}
              </Button>
            </>
          )
        }
      >
        <Link to=".." relative="path" className="mr-2 text-sm font-normal text-sky-400 hover:underline">
          Strategies
        </Link>
        <span className="text-slate-500">/</span> {strategy.name} <Badge>v{strategy.latest_version}</Badge>
        {dirty && <span className="ml-2 align-middle text-xs font-normal text-amber-300">unsaved changes</span>}
      </PageTitle>
      {readOnly && <ReadOnlyNote>You are a viewer in this workspace: this strategy is read-only.</ReadOnlyNote>}
      <ErrorBox error={save.error} />

      {old ? (
        <Card
          title={`Version ${old.version} (read-only)`}
          actions={
            <div className="flex gap-2">
              {!readOnly && (
                <Button
                  variant="secondary"
                  onClick={() => {
                    setText(specText(old.spec))
                    setViewing(null)
                  }}
                >
                  Load into editor
                </Button>
              )}
              <Button variant="secondary" onClick={() => setViewing(null)}>
                Back to the editor
              </Button>
            </div>
          }
        >
          <p className="mb-2 text-xs text-slate-400">
            Saved {formatTime(old.created_at)} UTC · hash <span className="font-mono">{old.spec_hash.slice(0, 12)}</span>
          </p>
          <pre className="max-h-[32rem] overflow-auto rounded-md bg-slate-950 p-3 font-mono text-xs text-slate-200" data-testid="old-version">
            {specText(old.spec)}
          </pre>
        </Card>
      ) : (
        <div className="grid gap-4 2xl:grid-cols-2">
          <Card title="Visual builder">
            {spec ? (
              <SpecBuilder spec={spec} onChange={(s) => setText(specText(s))} readOnly={readOnly} />
            ) : (
              <p className="text-sm text-amber-300">The JSON is not a valid object right now. Fix it in the JSON editor to use the builder again.</p>
            )}
          </Card>
          <Card title="JSON">
            <SpecJsonEditor value={text} onChange={setText} readOnly={readOnly} validation={validation} stale={stale} />
          </Card>
        </div>
      )}

      <Card title="Versions" className="mt-4">
        {versions.isPending ? (
          <Spinner />
        ) : versions.error ? (
          <ErrorBox error={versions.error} />
        ) : (
          <ul className="flex flex-wrap gap-2">
            {[...versions.data].sort((a, b) => b.version - a.version).map((v) => (
              <li key={v.version}>
                <Button
                  variant={viewing === v.version ? 'primary' : 'secondary'}
                  aria-pressed={viewing === v.version}
                  onClick={() => setViewing(viewing === v.version ? null : v.version)}
                >
                  v{v.version} · {formatTime(v.created_at)}
                </Button>
              </li>
            ))}
          </ul>
        )}
      </Card>
    </div>
  )
}
