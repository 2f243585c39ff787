// The strategy and dataset of a run, shared by the backtest and optimisation forms: a saved
// strategy of the workspace (with its version) or a built-in template, and a dataset.
import { useQuery } from '@tanstack/react-query'
import { useEffect, useState } from 'react'
import { Link } from 'react-router'
import { api, type Dataset, type Page, type Strategy, type StrategyVersion, type Template } from '../../api/client'
import { useWorkspace, useWsBase } from '../../session'
import { ErrorBox, Field, Select, Spinner } from '../ui'

export type RunSource = ReturnType<typeof useRunSource>

/** Where a run form starts: `strategy` is `s:<id>` (saved) or `t:<name>` (template). */
export type RunSourceInit = { strategy?: string; version?: string; dataset?: string }

/** The URL query of a form that starts from a given run (see `runSourceInit`). */
export function runSourceQuery(run: { strategy_id?: string; strategy_version?: number; dataset?: string; spec?: { name?: string } }, params?: Record<string, number>): string {
  const q = new URLSearchParams()
  if (run.strategy_id) q.set('strategy', `s:${run.strategy_id}`)
  else if (run.spec?.name) q.set('strategy', `t:${run.spec.name}`)
  if (run.strategy_id && run.strategy_version) q.set('version', String(run.strategy_version))
  if (run.dataset) q.set('dataset', run.dataset)
  for (const [k, v] of Object.entries(params ?? {})) q.set(`p.${k}`, String(v))
  return `?${q}`
}

/** Reads what `runSourceQuery` wrote. */
export function runSourceInit(q: URLSearchParams): RunSourceInit & { params: Record<string, string> } {
  const params: Record<string, string> = {}
  q.forEach((v, k) => {
    if (k.startsWith('p.')) params[k.slice(2)] = v
  })
  return { strategy: q.get('strategy') ?? undefined, version: q.get('version') ?? undefined, dataset: q.get('dataset') ?? undefined, params }
}

export function useRunSource(init: RunSourceInit = {}) {
  const base = useWsBase()
  const [strategy, setStrategy] = useState(init.strategy ?? '') // `s:<id>` or `t:<template>`
  const [version, setVersion] = useState(init.version ?? '') // '' = latest
  const [dataset, setDataset] = useState(init.dataset ?? '')
  const strategies = useQuery({ queryKey: ['runs:strategies', base], queryFn: () => api.get<Page<Strategy>>(`${base}/strategies?limit=500`) })
  const templates = useQuery({ queryKey: ['runs:templates'], queryFn: () => api.get<Template[]>('/api/templates'), staleTime: 10 * 60_000 })
  const datasets = useQuery({ queryKey: ['runs:datasets', base], queryFn: () => api.get<Page<Dataset>>(`${base}/datasets?limit=500`) })
  const savedId = strategy.startsWith('s:') ? strategy.slice(2) : ''
  const versions = useQuery({
    queryKey: ['runs:versions', base, savedId],
    queryFn: () => api.get<StrategyVersion[]>(`${base}/strategies/${savedId}/versions`),
    enabled: !!savedId,
  })
  // Pick the first strategy and dataset once they are known.
  useEffect(() => {
    if (strategy) return
    const s = strategies.data?.items[0]
    if (s) setStrategy(`s:${s.id}`)
    else if (strategies.data && templates.data?.[0]) setStrategy(`t:${templates.data[0].name}`)
  }, [strategy, strategies.data, templates.data])
  useEffect(() => {
    if (!dataset && datasets.data?.items[0]) setDataset(datasets.data.items[0].id)
  }, [dataset, datasets.data])

  const saved = strategies.data?.items.find((s) => s.id === savedId)
  const template = strategy.startsWith('t:') ? templates.data?.find((t) => t.name === strategy.slice(2)) : undefined
  const spec: unknown = savedId
    ? version
      ? versions.data?.find((v) => String(v.version) === version)?.spec
      : saved?.spec
    : template?.spec
  const body = savedId
    ? { strategy_id: savedId, ...(version ? { strategy_version: Number(version) } : {}), dataset: dataset || undefined }
    : { strategy: template?.name, dataset: dataset || undefined }
  return {
    strategy,
    setStrategy: (s: string) => {
      setStrategy(s)
      setVersion('')
    },
    version,
    setVersion,
    dataset,
    setDataset,
    strategies,
    templates,
    datasets,
    versions,
    saved,
    spec,
    /** A stable key of the chosen spec, to reset parameter inputs when it changes. */
    specKey: `${strategy}@${version}`,
    body,
    ready: !!strategy && !!dataset && !!spec,
    selectedDataset: datasets.data?.items.find((d) => d.id === dataset),
  }
}

/** The strategy (and version) fields, and the dataset unless `dataset` is false (a bot on live data). */
export function RunSourceFields({ src, dataset = true }: { src: RunSource; dataset?: boolean }) {
  const ws = useWorkspace()
  if (src.strategies.isPending || src.datasets.isPending || src.templates.isPending) return <Spinner label="Loading strategies and datasets" />
  const err = src.strategies.error ?? src.datasets.error ?? src.templates.error
  if (err) return <ErrorBox error={err} />
  const noData = !src.datasets.data?.items.length
  const strategyPart = (
    <>
      <Field label="Strategy">
        <Select value={src.strategy} onChange={(e) => src.setStrategy(e.target.value)} required>
          {src.strategies.data?.items.length ? (
            <optgroup label="Saved strategies">
              {src.strategies.data.items.map((s) => (
                <option key={s.id} value={`s:${s.id}`}>
                  {s.name}
                </option>
              ))}
            </optgroup>
          ) : null}
          <optgroup label="Templates">
            {src.templates.data?.map((t) => (
              <option key={t.name} value={`t:${t.name}`}>
                {t.name} (template)
              </option>
            ))}
          </optgroup>
        </Select>
      </Field>
      {src.saved ? (
        <Field label="Version">
          <Select value={src.version} onChange={(e) => src.setVersion(e.target.value)}>
            <option value="">Latest (v{src.saved.latest_version})</option>
            {src.versions.data
              ?.slice()
              .sort((a, b) => b.version - a.version)
              .map((v) => (
                <option key={v.version} value={String(v.version)}>
                  v{v.version}
                </option>
              ))}
          </Select>
        </Field>
      ) : (
        <div className="hidden sm:block" />
      )}
    </>
  )
  if (!dataset) return <div className="grid gap-3 sm:grid-cols-2">{strategyPart}</div>
  return (
    <div className="grid gap-3 sm:grid-cols-2">
      {strategyPart}
      <Field label="Dataset">
        {noData ? (
          <p className="text-sm text-slate-400">
            No datasets yet. <Link className="text-sky-400 underline" to={`/w/${ws.id}/datasets`}>Add one</Link> first.
          </p>
        ) : (
          <Select value={src.dataset} onChange={(e) => src.setDataset(e.target.value)} required>
            {src.datasets.data?.items.map((d) => (
              <option key={d.id} value={d.id}>
                {d.name} ({d.symbol} {d.timeframe}, {d.bars.toLocaleString('en-US')} bars)
              </option>
            ))}
          </Select>
        )}
      </Field>
    </div>
  )
}
