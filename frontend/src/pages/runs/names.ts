// Display names of a run's strategy and dataset (jobs record ids and the resolved spec).
import { useQuery } from '@tanstack/react-query'
import { api, type Dataset, type Page, type Strategy } from '../../api/client'
import type { RunPayload } from '../../components/runs/report'
import { useWsBase } from '../../session'

export function useNames() {
  const base = useWsBase()
  const strategies = useQuery({ queryKey: ['runs:strategies', base], queryFn: () => api.get<Page<Strategy>>(`${base}/strategies?limit=500`) })
  const datasets = useQuery({ queryKey: ['runs:datasets', base], queryFn: () => api.get<Page<Dataset>>(`${base}/datasets?limit=500`) })
  return {
    strategy(run: RunPayload): string {
      const s = run.strategy_id ? strategies.data?.items.find((x) => x.id === run.strategy_id) : undefined
      if (s) return `${s.name}${run.strategy_version ? ` v${run.strategy_version}` : ''}`
      return run.spec?.name ?? 'Strategy'
    },
    dataset(run: RunPayload): string {
      const d = run.dataset ? datasets.data?.items.find((x) => x.id === run.dataset) : undefined
      if (d) return d.name
      return [run.symbol, run.timeframe].filter(Boolean).join(' ') || '—'
    },
  }
}
