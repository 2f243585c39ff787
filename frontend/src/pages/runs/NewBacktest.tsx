// The new-backtest form: strategy, dataset, parameters (from the spec), cash, commission and
// fill model. Server errors (written for people) are shown inline.
import { useMutation } from '@tanstack/react-query'
import { useEffect, useRef, useState, type FormEvent } from 'react'
import { Link, useNavigate, useSearchParams } from 'react-router'
import { api, type BacktestBody, type Job } from '../../api/client'
import { paramDefault, specParams, type ParamSpec } from '../../components/runs/report'
import { RunSourceFields, runSourceInit, useRunSource } from '../../components/runs/RunSource'
import { Button, Card, ErrorBox, Field, Input, PageTitle, Select } from '../../components/ui'
import { useWorkspace, useWsBase } from '../../session'

export const FILLS = [
  ['next-open', 'Next bar open (default)'],
  ['close', 'Signal bar close'],
  ['intrabar', 'Intrabar'],
] as const

function paramHint(p: ParamSpec): string {
  if (p.choice) return `one of ${p.choice.join(', ')}`
  const r = p.int ?? p.float
  if (!r) return ''
  return `${p.int ? 'whole number' : 'number'} ${r[0]} to ${r[1]}${p.step ? `, step ${p.step}` : ''}`
}

export function ParamInput({ name, spec, value, onChange }: { name: string; spec: ParamSpec; value: string; onChange: (v: string) => void }) {
  if (spec.choice)
    return (
      <Field label={name} hint={paramHint(spec)}>
        <Select value={value} onChange={(e) => onChange(e.target.value)}>
          {spec.choice.map((c) => (
            <option key={c} value={String(c)}>
              {c}
            </option>
          ))}
        </Select>
      </Field>
    )
  const r = spec.int ?? spec.float
  return (
    <Field label={name} hint={paramHint(spec)}>
      <Input
        type="number"
        inputMode="decimal"
        value={value}
        min={r?.[0]}
        max={r?.[1]}
        step={spec.step ?? (spec.int ? 1 : 'any')}
        onChange={(e) => onChange(e.target.value)}
        required
      />
    </Field>
  )
}

export function NewBacktest() {
  const ws = useWorkspace()
  const base = useWsBase()
  const navigate = useNavigate()
  const [search] = useSearchParams()
  const [init] = useState(() => runSourceInit(search)) // e.g. "Backtest these parameters" of an optimisation
  const src = useRunSource(init)
  const params = specParams(src.spec)
  const initKey = useRef<string | null>(null)
  const [values, setValues] = useState<Record<string, string>>({})
  const [cash, setCash] = useState('10000')
  const [commission, setCommission] = useState('0.001')
  const [fill, setFill] = useState('next-open')
  // New spec: start from its defaults.
  const specKey = src.spec ? src.specKey : ''
  useEffect(() => {
    if (!specKey) return
    if (initKey.current === null) initKey.current = specKey
    const fromUrl = specKey === initKey.current ? init.params : {}
    setValues(Object.fromEntries(specParams(src.spec).map(([k, p]) => [k, fromUrl[k] ?? String(paramDefault(p))])))
  }, [specKey])
  const submit = useMutation({
    mutationFn: (body: BacktestBody) => api.post<Job>(`${base}/backtests`, body),
    onSuccess: (job) => navigate(`/w/${ws.id}/backtests/${job.id}`),
  })
  const onSubmit = (e: FormEvent) => {
    e.preventDefault()
    const p: Record<string, number> = {}
    for (const [k] of params) if (values[k] !== undefined && values[k] !== '') p[k] = Number(values[k])
    submit.mutate({ ...src.body, params: p, cash: cash.trim() || undefined, commission: commission.trim() || undefined, fill })
  }
  if (!ws.canWrite)
    return (
      <div>
        <PageTitle>New backtest</PageTitle>
        <ErrorBox error={new Error('Your role in this workspace (viewer) cannot run backtests.')} />
      </div>
    )
  return (
    <div className="max-w-3xl">
      <PageTitle>New backtest</PageTitle>
      <form onSubmit={onSubmit} className="flex flex-col gap-4" aria-label="New backtest">
        <Card title="Strategy and data">
          <RunSourceFields src={src} />
        </Card>
        <Card title="Parameters">
          {!src.spec ? (
            <p className="text-sm text-slate-400">Choose a strategy to see its parameters.</p>
          ) : params.length ? (
            <div className="grid gap-3 sm:grid-cols-2 md:grid-cols-3">
              {params.map(([k, p]) => (
                <ParamInput key={`${specKey}:${k}`} name={k} spec={p} value={values[k] ?? ''} onChange={(v) => setValues((o) => ({ ...o, [k]: v }))} />
              ))}
            </div>
          ) : (
            <p className="text-sm text-slate-400">This strategy has no parameters.</p>
          )}
        </Card>
        <Card title="Account and fills">
          <div className="grid gap-3 sm:grid-cols-3">
            <Field label="Starting cash" hint={src.selectedDataset ? `in ${src.selectedDataset.symbol.split('/')[1] ?? 'quote currency'}` : undefined}>
              <Input inputMode="decimal" value={cash} onChange={(e) => setCash(e.target.value)} pattern="[0-9]*\.?[0-9]*" required />
            </Field>
            <Field label="Commission per fill" hint="fraction: 0.001 = 0.1 %">
              <Input inputMode="decimal" value={commission} onChange={(e) => setCommission(e.target.value)} pattern="[0-9]*\.?[0-9]*" />
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
        </Card>
        <ErrorBox error={submit.error} />
        <div className="flex gap-2">
          <Button type="submit" disabled={!src.ready || submit.isPending}>
            {submit.isPending ? 'Queuing…' : 'Run backtest'}
          </Button>
          <Link to={`/w/${ws.id}/backtests`} className="rounded-md px-3 py-1.5 text-sm text-slate-300 hover:bg-slate-800">
            Cancel
          </Link>
        </div>
      </form>
    </div>
  )
}
