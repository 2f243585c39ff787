// The new-optimisation form: strategy and dataset, a searched range per parameter
// (prefilled from the spec), method, objective and trials.
import { useMutation } from '@tanstack/react-query'
import { useEffect, useState, type FormEvent } from 'react'
import { Link, useNavigate } from 'react-router'
import { api, type Job, type OptimizeBody } from '../../api/client'
import { paramRange, specParams } from '../../components/runs/report'
import { RunSourceFields, useRunSource } from '../../components/runs/RunSource'
import { Button, Card, ErrorBox, Field, Input, PageTitle, Select } from '../../components/ui'
import { useWorkspace, useWsBase } from '../../session'
import { FILLS } from './NewBacktest'

export const OBJECTIVES = [
  ['sharpe', 'Sharpe ratio'],
  ['sortino', 'Sortino ratio'],
  ['return', 'Total return'],
  ['calmar', 'Calmar (CAGR / max drawdown)'],
  ['profit_factor', 'Profit factor'],
  ['max_drawdown', 'Shallowest max drawdown'],
  ['win_rate', 'Win rate'],
  ['sqn', 'System Quality Number'],
] as const

/** How many values a range text gives (`5..50:5` → 10, `10,20` → 2), or null if unknown. */
export function rangeCount(text: string): number | null {
  const t = text.trim()
  const m = /^(-?[\d.]+)\s*\.\.\s*(-?[\d.]+)(?::\s*([\d.]+))?$/.exec(t)
  if (m) {
    const lo = Number(m[1])
    const hi = Number(m[2])
    const step = m[3] ? Number(m[3]) : null
    if (!step) return Number.isInteger(lo) && Number.isInteger(hi) ? hi - lo + 1 : 10
    return Math.floor((hi - lo) / step + 1e-9) + 1
  }
  if (/^[-\d.,\s]+$/.test(t)) return t.split(',').filter((s) => s.trim()).length
  return null
}

export function NewOptimization() {
  const ws = useWorkspace()
  const base = useWsBase()
  const navigate = useNavigate()
  const src = useRunSource()
  const params = specParams(src.spec)
  const [ranges, setRanges] = useState<Record<string, string>>({})
  const [method, setMethod] = useState('grid')
  const [objective, setObjective] = useState('sharpe')
  const [trials, setTrials] = useState('100')
  const [minTrades, setMinTrades] = useState('1')
  const [fill, setFill] = useState('next-open')
  const specKey = src.spec ? src.specKey : ''
  useEffect(() => {
    setRanges(Object.fromEntries(specParams(src.spec).map(([k, p]) => [k, paramRange(p)])))
  }, [specKey])
  const gridSize = params.reduce<number | null>((acc, [k]) => {
    const n = rangeCount(ranges[k] ?? '')
    return acc === null || n === null ? null : acc * n
  }, 1)
  const submit = useMutation({
    mutationFn: (body: OptimizeBody) => api.post<Job>(`${base}/optimizations`, body),
    onSuccess: (job) => navigate(`/w/${ws.id}/optimizations/${job.id}`),
  })
  const onSubmit = (e: FormEvent) => {
    e.preventDefault()
    const r: Record<string, string> = {}
    for (const [k] of params) if (ranges[k]?.trim()) r[k] = ranges[k].trim()
    submit.mutate({
      run: { ...src.body, fill },
      ranges: r,
      method,
      objective,
      trials: method === 'grid' ? undefined : Number(trials),
      min_trades: minTrades ? Number(minTrades) : undefined,
    })
  }
  if (!ws.canWrite)
    return (
      <div>
        <PageTitle>New optimisation</PageTitle>
        <ErrorBox error={new Error('Your role in this workspace (viewer) cannot run optimisations.')} />
      </div>
    )
  return (
    <div className="max-w-3xl">
      <PageTitle>New optimisation</PageTitle>
      <form onSubmit={onSubmit} className="flex flex-col gap-4" aria-label="New optimisation">
        <Card title="Strategy and data">
          <RunSourceFields src={src} />
        </Card>
        <Card title="Searched ranges">
          {!src.spec ? (
            <p className="text-sm text-slate-400">Choose a strategy to see its parameters.</p>
          ) : params.length ? (
            <>
              <p className="mb-3 text-xs text-slate-400">
                <code>low..high:step</code> or a list <code>10,20,50</code>. The first two parameters make the heat map.
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
              <Field label="Trials">
                <Input type="number" min={1} max={20000} value={trials} onChange={(e) => setTrials(e.target.value)} required />
              </Field>
            ) : (
              <Field label="Grid size">
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
        <ErrorBox error={submit.error} />
        <div className="flex gap-2">
          <Button type="submit" disabled={!src.ready || submit.isPending}>
            {submit.isPending ? 'Queuing…' : 'Run optimisation'}
          </Button>
          <Link to={`/w/${ws.id}/optimizations`} className="rounded-md px-3 py-1.5 text-sm text-slate-300 hover:bg-slate-800">
            Cancel
          </Link>
        </div>
      </form>
    </div>
  )
}
