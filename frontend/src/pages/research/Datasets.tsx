// Datasets: the list, generating synthetic bars, uploading a CSV (with progress); and one
// dataset's candle chart.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { lazy, Suspense, useState, type FormEvent } from 'react'
import { Link, useNavigate, useParams } from 'react-router'
import { api, qs, upload, type Candles, type Dataset, type Page, type Schemas } from '../../api/client'
import { Badge, Button, Card, EmptyState, ErrorBox, Field, Input, PageTitle, ProgressBar, Select, Spinner } from '../../components/ui'
import { formatDate, formatNumber, formatTime } from '../../lib/format'
import { useWorkspace, useWsBase } from '../../session'
import { ReadOnlyNote } from './Strategies'

const CandleChart = lazy(() => import('../../components/research/CandleChart').then((m) => ({ default: m.CandleChart })))

const TIMEFRAMES = ['1m', '5m', '15m', '30m', '1h', '4h', '1d', '1w']

export function DatasetsPage() {
  const base = useWsBase()
  const ws = useWorkspace()
  const q = useQuery({ queryKey: ['datasets', ws.id], queryFn: () => api.get<Page<Dataset>>(`${base}/datasets?limit=500`) })
  return (
    <div>
      <PageTitle>Datasets</PageTitle>
      {!ws.canWrite && <ReadOnlyNote>You are a viewer in this workspace: you can look at datasets but not generate, upload or delete them.</ReadOnlyNote>}
      {q.isPending ? (
        <Spinner />
      ) : q.error ? (
        <ErrorBox error={q.error} />
      ) : q.data.items.length === 0 ? (
        <EmptyState title="No datasets yet">{ws.canWrite ? 'Generate synthetic bars or upload a CSV below.' : 'Nothing has been added to this workspace yet.'}</EmptyState>
      ) : (
        <div className="relative overflow-x-auto rounded-lg border border-slate-800">
          <table className="min-w-full text-sm">
            <thead className="bg-slate-900 text-left text-xs uppercase tracking-wide text-slate-400">
              <tr>
                <th className="px-3 py-2">Name</th>
                <th className="px-3 py-2">Symbol</th>
                <th className="px-3 py-2">Timeframe</th>
                <th className="px-3 py-2 text-right">Bars</th>
                <th className="px-3 py-2">Range (UTC)</th>
                <th className="px-3 py-2">Updated (UTC)</th>
              </tr>
            </thead>
            <tbody>
              {q.data.items.map((d) => (
                <tr key={d.id} className="border-t border-slate-800 hover:bg-slate-900/60">
                  <td className="whitespace-nowrap px-3 py-2">
                    <Link className="text-sky-400 hover:underline" to={d.id}>
                      {d.name}
                    </Link>
                  </td>
                  <td className="whitespace-nowrap px-3 py-2">
                    {d.symbol} <span className="text-xs text-slate-500">{d.venue}</span>
                  </td>
                  <td className="px-3 py-2">{d.timeframe}</td>
                  <td className="num px-3 py-2 text-right">{formatNumber(d.bars, 0)}</td>
                  <td className="num whitespace-nowrap px-3 py-2 text-slate-400">
                    {formatDate(d.first_ts)} → {formatDate(d.last_ts)}
                  </td>
                  <td className="num whitespace-nowrap px-3 py-2 text-slate-400">{formatTime(d.updated_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {ws.canWrite && (
        <div className="mt-6 grid gap-4 lg:grid-cols-2">
          <GenerateForm />
          <UploadForm />
        </div>
      )}
    </div>
  )
}

function GenerateForm() {
  const base = useWsBase()
  const ws = useWorkspace()
  const qc = useQueryClient()
  const [symbol, setSymbol] = useState('BTC/USDT')
  const [timeframe, setTimeframe] = useState('1h')
  const [bars, setBars] = useState('5000')
  const [model, setModel] = useState('gbm')
  const [seed, setSeed] = useState('42')
  const m = useMutation({
    mutationFn: () => {
      const body: Schemas['GenerateBody'] = { symbol: symbol.trim(), timeframe, bars: Number(bars), model, seed: seed.trim() === '' ? undefined : Number(seed) }
      return api.post<Dataset>(`${base}/datasets/generate`, body)
    },
    onSuccess: () => qc.invalidateQueries({ queryKey: ['datasets', ws.id] }),
  })
  const submit = (e: FormEvent) => {
    e.preventDefault()
    m.mutate()
  }
  return (
    <Card title="Generate synthetic bars">
      <form className="grid grid-cols-2 gap-3" onSubmit={submit} aria-label="Generate synthetic bars">
        <Field label="Symbol" hint="BASE/QUOTE">
          <Input required value={symbol} onChange={(e) => setSymbol(e.target.value)} />
        </Field>
        <Field label="Timeframe">
          <Select value={timeframe} onChange={(e) => setTimeframe(e.target.value)}>
            {TIMEFRAMES.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </Select>
        </Field>
        <Field label="Bars" hint="1 to 2,000,000">
          <Input required type="number" min={1} max={2_000_000} value={bars} onChange={(e) => setBars(e.target.value)} />
        </Field>
        <Field label="Model">
          <Select value={model} onChange={(e) => setModel(e.target.value)}>
            <option value="gbm">gbm: random walk</option>
            <option value="regime">regime: trends and ranges</option>
          </Select>
        </Field>
        <Field label="Seed" hint="Same seed, same bars">
          <Input type="number" value={seed} onChange={(e) => setSeed(e.target.value)} />
        </Field>
        <div className="col-span-2 flex flex-col gap-2">
          <ErrorBox error={m.error} />
          {m.isSuccess && (
            <p className="text-sm text-emerald-300" role="status">
              Generated {m.data.name} ({formatNumber(m.data.bars, 0)} bars).
            </p>
          )}
          <div>
            <Button type="submit" disabled={m.isPending}>
              {m.isPending ? 'Generating…' : 'Generate'}
            </Button>
          </div>
        </div>
      </form>
    </Card>
  )
}

export function UploadForm() {
  const base = useWsBase()
  const ws = useWorkspace()
  const qc = useQueryClient()
  const [file, setFile] = useState<File | null>(null)
  const [symbol, setSymbol] = useState('')
  const [timeframe, setTimeframe] = useState('1d')
  const [venue, setVenue] = useState('')
  const [mode, setMode] = useState('replace')
  const [progress, setProgress] = useState<number | null>(null)
  const m = useMutation({
    mutationFn: () => {
      if (!file) throw new Error('Choose a CSV file first.')
      setProgress(0)
      return upload<Dataset>(`${base}/datasets/upload${qs({ symbol: symbol.trim(), timeframe, venue: venue.trim(), mode })}`, file, setProgress)
    },
    onSuccess: () => qc.invalidateQueries({ queryKey: ['datasets', ws.id] }),
    onSettled: () => setProgress(null),
  })
  return (
    <Card title="Upload a CSV">
      <form
        className="grid grid-cols-2 gap-3"
        aria-label="Upload a CSV"
        onSubmit={(e) => {
          e.preventDefault()
          m.mutate()
        }}
      >
        <div className="col-span-2">
          <Field label="CSV file" hint="Generic OHLCV, Yahoo or Binance klines; up to 256 MB">
            <Input type="file" accept=".csv,text/csv" required onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
          </Field>
        </div>
        <Field label="Symbol" hint="BASE/QUOTE, e.g. ETH/USDT">
          <Input required value={symbol} onChange={(e) => setSymbol(e.target.value)} />
        </Field>
        <Field label="Timeframe">
          <Select value={timeframe} onChange={(e) => setTimeframe(e.target.value)}>
            {TIMEFRAMES.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </Select>
        </Field>
        <Field label="Venue" hint="Optional, e.g. binance">
          <Input value={venue} onChange={(e) => setVenue(e.target.value)} />
        </Field>
        <Field label="If the series exists">
          <Select value={mode} onChange={(e) => setMode(e.target.value)}>
            <option value="replace">Replace its bars</option>
            <option value="merge">Merge (add new bars)</option>
          </Select>
        </Field>
        <div className="col-span-2 flex flex-col gap-2">
          {progress !== null && <ProgressBar value={progress} label="Upload progress" />}
          <ErrorBox error={m.error} />
          {m.isSuccess && (
            <p className="text-sm text-emerald-300" role="status">
              Uploaded {m.data.name} ({formatNumber(m.data.bars, 0)} bars).
            </p>
          )}
          <div>
            <Button type="submit" disabled={m.isPending || !file}>
              {m.isPending ? 'Uploading…' : 'Upload'}
            </Button>
          </div>
        </div>
      </form>
    </Card>
  )
}

export function DatasetDetailPage() {
  const { id } = useParams()
  const base = useWsBase()
  const ws = useWorkspace()
  const qc = useQueryClient()
  const navigate = useNavigate()
  const d = useQuery({ queryKey: ['dataset', ws.id, id], queryFn: () => api.get<Dataset>(`${base}/datasets/${id}`) })
  const candles = useQuery({ queryKey: ['candles', ws.id, id], queryFn: () => api.get<Candles>(`${base}/datasets/${id}/candles?limit=2000`), staleTime: 60_000 })
  const del = useMutation({
    mutationFn: () => api.del(`${base}/datasets/${id}`),
    onSuccess: async () => {
      await qc.invalidateQueries({ queryKey: ['datasets', ws.id] })
      navigate('..', { relative: 'path' })
    },
  })
  if (d.isPending) return <Spinner />
  if (d.error) return <ErrorBox error={d.error} />
  const ds = d.data
  return (
    <div>
      <PageTitle
        actions={
          ws.canWrite && (
            <Button
              variant="danger"
              disabled={del.isPending}
              onClick={() => {
                if (window.confirm(`Delete the dataset “${ds.name}” and its ${ds.bars} bars? This cannot be undone.`)) del.mutate()
              }}
            >
              {del.isPending ? 'Deleting…' : 'Delete dataset'}
            </Button>
          )
        }
      >
        <Link to=".." relative="path" className="mr-2 text-sm font-normal text-sky-400 hover:underline">
          Datasets
        </Link>
        <span className="text-slate-500">/</span> {ds.name}
      </PageTitle>
      <ErrorBox error={del.error} />
      <div className="mb-3 flex flex-wrap gap-2 text-sm text-slate-400">
        <Badge tone="sky">{ds.symbol}</Badge>
        <Badge>{ds.timeframe}</Badge>
        <Badge>{ds.venue}</Badge>
        <span className="num">{formatNumber(ds.bars, 0)} bars</span>
        <span className="num">
          {formatTime(ds.first_ts)} → {formatTime(ds.last_ts)} UTC
        </span>
      </div>
      <Card title={ds.bars > 2000 ? 'Latest 2,000 bars' : 'Bars'}>
        {candles.isPending ? (
          <Spinner label="Loading candles" />
        ) : candles.error ? (
          <ErrorBox error={candles.error} />
        ) : candles.data.t.length === 0 ? (
          <EmptyState title="This dataset has no bars" />
        ) : (
          <Suspense fallback={<Spinner label="Loading chart" />}>
            <CandleChart candles={candles.data} />
          </Suspense>
        )}
      </Card>
    </div>
  )
}
