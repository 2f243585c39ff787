// Types and helpers for a walk-forward job: its payload and the JSON of
// `skeet walkforward -o` inside `job.result` (docs/optimization.md). Bar ranges are
// half-open `[start, end)`; times are nanoseconds since the epoch.
import type { Job } from '../../api/client'
import type { OptimizePayload, ReportMetrics, ReportTrade, RunPayload } from './report'

/** Metrics of a window or of the stitched out-of-sample run (the fields read here). */
export type WalkForwardMetrics = ReportMetrics & { [k: string]: number | null | undefined }

export type WalkForwardWindow = {
  in_sample: [number, number]
  out_of_sample: [number, number]
  out_of_sample_time?: [number, number]
  params: Record<string, number>
  in_sample_objective: number | null
  in_sample_cagr_pct?: number | null
  out_of_sample_metrics: WalkForwardMetrics
  out_of_sample_objective: number | null
  trials?: number
}

export type WalkForwardReport = {
  strategy?: string
  config?: { windows?: number; in_sample?: number | null; out_of_sample?: number | null; anchored?: boolean }
  windows: WalkForwardWindow[]
  out_of_sample: WalkForwardMetrics
  /** `[ts_ns, equity]` pairs of the stitched out-of-sample equity. */
  equity: [number, number][]
  efficiency: number | null
  mean_in_sample_objective?: number | null
  mean_out_of_sample_objective?: number | null
  trades?: ReportTrade[]
  seconds?: number
}

/** The headline numbers a list carries (`job.summary`). */
export type WalkForwardSummary = {
  windows: number
  efficiency: number | null
  out_of_sample_return_pct: number | null
  out_of_sample_sharpe: number | null
}

export type WalkForwardPayload = {
  search?: OptimizePayload
  windows?: number | null
  in_sample?: number | null
  out_of_sample?: number | null
  anchored?: boolean
}

/** The `run` of a walk-forward job's search. */
export function walkForwardRun(job: Job): RunPayload {
  return ((job.payload ?? {}) as WalkForwardPayload).search?.run ?? {}
}

export type Verdict = { tone: 'green' | 'amber' | 'red'; headline: string; detail: string }

/**
 * Plain words for the walk-forward efficiency (out-of-sample annual return / in-sample).
 * Pardo's rule of thumb: robust systems keep 50 % or more.
 */
export function verdictOf(efficiency: number | null | undefined): Verdict {
  if (efficiency === null || efficiency === undefined || !Number.isFinite(efficiency) || efficiency < 0)
    return {
      tone: 'red',
      headline: 'Fails out of sample',
      detail:
        efficiency === null || efficiency === undefined || !Number.isFinite(efficiency)
          ? 'No window made money in sample, so no efficiency could be measured: the chosen parameters did not carry over.'
          : `Out of sample it lost money while the training windows made money (efficiency ${efficiency.toFixed(2)}): the optimum was likely fitted to noise.`,
    }
  const pct = Math.round(efficiency * 100)
  if (efficiency >= 0.5)
    return {
      tone: 'green',
      headline: 'Holds up out of sample',
      detail:
        efficiency > 1
          ? `Out of sample it earned more per year than in sample (efficiency ${efficiency.toFixed(2)}); robust systems keep 50 % or more.`
          : `Out of sample it keeps ${pct} % of the in-sample annual return (efficiency ${efficiency.toFixed(2)}); robust systems keep 50 % or more.`,
    }
  return {
    tone: 'amber',
    headline: 'Loses most of its edge out of sample',
    detail: `Out of sample it keeps only ${pct} % of the in-sample annual return (efficiency ${efficiency.toFixed(2)}); robust systems keep 50 % or more.`,
  }
}

/** At most `max` points of a long curve, keeping the first and the last. */
export function thin<T>(points: T[], max = 1500): T[] {
  if (points.length <= max) return points
  const step = (points.length - 1) / (max - 1)
  const out: T[] = []
  for (let i = 0; i < max; i++) out.push(points[Math.round(i * step)])
  return out
}
