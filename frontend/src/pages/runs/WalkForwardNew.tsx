// The new-walk-forward form: the optimisation form's search (strategy and dataset, a range per
// parameter, method, objective), repeated on every training window, plus the windows.
import { useMutation } from '@tanstack/react-query'
import { useEffect, useState, type FormEvent } from 'react'
import { Link, useNavigate, useSearchParams } from 'react-router'
import { api, type Job, type Schemas } from '../../api/client'
import { paramRange, specParams } from '../../components/runs/report'
import { RunSourceFields, runSourceInit, useRunSource } from '../../components/runs/RunSource'
import { Button, Card, ErrorBox, Field, Input, PageTitle, Select } from '../../components/ui'
import { useWorkspace, useWsBase } from '../../session'
import { FILLS } from './NewBacktest'
import { OBJECTIVES, rangeCount } from './NewOptimization'

type WalkForwardBody = Schemas['WalkForwardBody']

/** The URL query that opens this form with an optimisation's source and ranges. */
export function walkForwardQuery(base: string, ranges: Record<string, string> | undefined, method?: string, objective?: string): string {
  const q = new URLSearchParams(base.startsWith('?') ? base.slice(1) : base)
  for (const k of [...q.keys()]) if (k.startsWith('p.')) q.delete(k)
  for (const [k, v] of Object.entries(ranges ?? {})) q.set(`r.${k}`, v)
  if (method) q.set('method', method)
  if (objective) q.set('objective', objective)
  return `?${q}`
}

export function WalkForwardNew() {
  const ws = useWorkspace()
  const base = useWsBase()
  const navigate = useNavigate()
  const [query] = useSearchParams()
  const [init] = useState(() => {
    const ranges: Record<string, string> = {}
    query.forEach((v, k) => {
      if (k.startsWith('r.')) ranges[k.slice(2)] = v
    })
    return { ...runSourceInit(query), ranges, method: query.get('method'), objective: query.get('objective') }
  })
  const src = useRunSource(init)
  const params = specParams(src.spec)
  const [ranges, setRanges] = useState<Record<string, string>>({})
  const [method, setMethod] = useState(init.method ?? 'grid')
  const [objective, setObjective] = useState(init.objective ?? 'sharpe')
  const [trials, setTrials] = useState('100')
  const [minTrades, setMinTrades] = useState('1')
  const [fill, setFill] = useState('next-open')
  const [windows, setWindows] = useState('5')
  const [inSample, setInSample] = useState('')
  const [outOfSample, setOutOfSample] = useState('')
  const [anchored, setAnchored] = useState(false)
  const specKey = src.spec ? src.specKey : ''
  const [firstKey, setFirstKey] = useState<string | null>(null)
  useEffect(() => {
    if (!specKey) return
    // The ranges of the link this form was opened from apply to the first spec only.
    const fromLink = firstKey === null && Object.keys(init.ranges).length > 0
    if (firstKey === null) setFirstKey(specKey)
    setRanges(Object.fromEntries(specParams(src.spec).map(([k, p]) => [k, fromLink && init.ranges[k] ? init.ranges[k] : paramRange(p)])))
  }, [specKey])
  const gridSize = params.reduce<number | null>((acc, [k]) => {
    const n = rangeCount(ranges[k] ?? '')
    return acc === null || n === null ? null : acc * n
  }, 1)
  const submit = useMutation({
    mutationFn: (body: WalkForwardBody) => api.post<Job>(`${base}/walkforwards`, body),
    onSuccess: (job) => navigate(`/w/${ws.id}/walkforwards/${job.id}`),
  })
  const onSubmit = (e: FormEvent) => {
    e.preventDefault()
    const r: Record<string, string> = {}
    for (const [k] of params) if (ranges[k]?.trim()) r[k] = ranges[k].trim()
    submit.mutate({
      search: {
        run: { ...src.body, fill },
        ranges: r,
        method,
        objective,
        trials: method === 'grid' ? undefined : Number(trials),
        min_trades: minTrades ? Number(minTrades) : undefined,
      },
      windows: windows ? Number(windows) : undefined,
      in_sample: inSample ? Number(inSample) : undefined,
      out_of_sample: outOfSample ? Number(outOfSample) : undefined,
      anchored,
    })
  }
  if (!ws.canWrite)
    return (
      <div>
        <PageTitle>New walk-forward</PageTitle>
        <ErrorBox error={new Error('Your role in this workspace (viewer) cannot run walk-forward analyses.')} />
      </div>
    )
  const bars = src.selectedDataset?.bars
  return (
    <div className="max-w-3xl">
      <PageTitle>New walk-forward</PageTitle>
      <p className="mb-4 text-sm text-slate-400">
        The search runs on each training (in-sample) window; the best parameters then trade the following test (out-of-sample) window. Only the test windows
        count, stitched into one out-of-sample result.
      </p>
      <form onSubmit={onSubmit} className="flex flex-col gap-4" aria-label="New walk-forward">
        <Card title="Strategy and data">
          <RunSourceFields src={src} />
        </Card>
        <Card title="Searched ranges">
          {!src.spec ? (
            <p className="text-sm text-slate-400">Choose a strategy to see its parameters.</p>
          ) : params.length ? (
            <>
              <p className="mb-3 text-xs text-slate-400">
                <code>low..high:step</code> or a list <code>10,20,50</code>, searched again in every training window.
              </p>
              <div className="grid gap-3 sm:grid-cols-2 md:grid-cols-3">
                {params.map(([k]) => (
                  <Field key={`${specKey}:${k}`} label={k} hint={rangeCount(ranges[k] ?? '') !== null ? `${rangeCount(ranges[k] ?? '')} values` : 'low..high:step or a,b,c'}>
                    <Input value={ranges[k] ?? ''} onChange={(e) => setRanges((o) => ({ ...o, [k]: e.target.value }))} spellCheck={false} />
                  </Field>
                ))}
              </div>
            </>
          ) : (
            <p className="text-sm text-slate-400">This strategy has no parameters to search.</p>
          )}
        </Card>
        <Card title="Search">
          <div className="grid gap-3 sm:grid-cols-2 md:grid-cols-4">
            <Field label="Method">
              <Select value={method} onChange={(e) => setMethod(e.target.value)}>
                <option value="grid">Grid (every combination)</option>
                <option value="random">Random</option>
                <option value="bayes">Bayesian</option>
              </Select>
            </Field>
            <Field label="Objective">
              <Select value={objective} onChange={(e) => setObjective(e.target.value)}>
                {OBJECTIVES.map(([v, l]) => (
                  <option key={v} value={v}>
                    {l}
                  </option>
                ))}
              </Select>
            </Field>
            {method !== 'grid' ? (
              <Field label="Trials" hint="per window">
                <Input type="number" min={1} max={20000} value={trials} onChange={(e) => setTrials(e.target.value)} required />
              </Field>
            ) : (
              <Field label="Grid size" hint="per window">
                <output className="py-1.5 text-sm tabular-nums text-slate-200">{gridSize === null ? '—' : `${gridSize.toLocaleString('en-US')} trials`}</output>
              </Field>
            )}
            <Field label="Minimum trades" hint="fewer: the trial does not count">
              <Input type="number" min={0} value={minTrades} onChange={(e) => setMinTrades(e.target.value)} />
            </Field>
            <Field label="Fill model">
              <Select value={fill} onChange={(e) => setFill(e.target.value)}>
                {FILLS.map(([v, l]) => (
                  <option key={v} value={v}>
                    {l}
                  </option>
                ))}
              </Select>
            </Field>
          </div>
          {method === 'grid' && gridSize !== null && gridSize > 20000 && (
            <p className="mt-2 text-sm text-amber-300">A search is limited to 20,000 trials: narrow the ranges or use a random search.</p>
          )}
        </Card>
        <Card title="Windows">
          <div className="grid gap-3 sm:grid-cols-2 md:grid-cols-4">
            <Field label="Windows" hint="out-of-sample windows, 1 to 50">
              <Input type="number" min={1} max={50} value={windows} onChange={(e) => setWindows(e.target.value)} />
            </Field>
            <Field label="In-sample bars" hint="training window; default three test windows">
              <Input type="number" min={1} value={inSample} onChange={(e) => setInSample(e.target.value)} placeholder="auto" />
            </Field>
            <Field label="Out-of-sample bars" hint="test window; default: the rest, split">
              <Input type="number" min={1} value={outOfSample} onChange={(e) => setOutOfSample(e.target.value)} placeholder="auto" />
            </Field>
            <div className="flex items-end pb-1.5">
              <label className="flex items-center gap-2 text-sm text-slate-200">
                <input type="checkbox" checked={anchored} onChange={(e) => setAnchored(e.target.checked)} className="h-4 w-4 accent-sky-500" />
                Anchored
              </label>
            </div>
          </div>
          <p className="mt-2 text-xs text-slate-400">
            Anchored: every training window starts at the first bar and grows; otherwise the windows roll forward.
            {bars ? ` The dataset has ${bars.toLocaleString('en-US')} bars.` : ''}
          </p>
        </Card>
        <ErrorBox error={submit.error} />
        <div className="flex gap-2">
          <Button type="submit" disabled={!src.ready || submit.isPending}>
            {submit.isPending ? 'Queuing…' : 'Run walk-forward'}
          </Button>
          <Link to={`/w/${ws.id}/walkforwards`} className="rounded-md px-3 py-1.5 text-sm text-slate-300 hover:bg-slate-800">
            Cancel
          </Link>
        </div>
      </form>
    </div>
  )
}
