// Small report fixtures for the unit tests (shapes as in docs/backtesting.md and docs/optimization.md).
import type { Heatmap, ReportMetrics, ReportTrade, Trial } from './report'

export const metrics: ReportMetrics = {
  total_return_pct: 12.3456,
  cagr_pct: -3.7775,
  sharpe: 1.2345,
  sortino: 1.8,
  max_drawdown_pct: -53.0653,
  win_rate_pct: 31.9148,
  profit_factor: null,
  trades: 1329,
  exposure_pct: 49.4863,
  final_equity: 11234.5,
  initial_equity: 10000,
}

const NS = 1_000_000
export const trades: ReportTrade[] = [
  { entry_ts: 1704682800000 * NS, exit_ts: 1704700800000 * NS, entry_price: '49913.263', exit_price: '49263.385', quantity: '0.2001474035', side: 'buy', pnl: '-149.92' },
  { entry_ts: 1704704400000 * NS, exit_ts: 1704938400000 * NS, entry_price: '50177.506', exit_price: '51518.953', quantity: '0.1961085594', side: 'buy', pnl: '243.13' },
  { entry_ts: 1705000000000 * NS, exit_ts: 1705100000000 * NS, entry_price: '51000.5', exit_price: '50000', quantity: '0.1', side: 'sell', pnl: '95.05' },
]

export const heatmap: Heatmap = {
  x: [5, 10, 15],
  x_param: 'fast',
  y: [30, 40],
  y_param: 'slow',
  z: [
    [0.33, 0.12, null],
    [0.38, 1.19, 0.77],
  ],
}

export const trials: Trial[] = [
  { params: { fast: 5, slow: 30 }, objective: 0.33, metrics: { sharpe: 0.33, return_pct: 10.9, max_drawdown_pct: -51.7, trades: 399 } },
  { params: { fast: 10, slow: 30 }, objective: 0.12, metrics: { sharpe: 0.12, return_pct: -7.4, max_drawdown_pct: -53, trades: 329 } },
  { params: { fast: 15, slow: 30 }, objective: null, metrics: null, infeasible: 'constraint' },
  { params: { fast: 5, slow: 40 }, objective: 0.38, metrics: { sharpe: 0.38, return_pct: 15.1, max_drawdown_pct: -49.3, trades: 348 } },
  { params: { fast: 10, slow: 40 }, objective: 1.19, metrics: { sharpe: 1.19, return_pct: 122.7, max_drawdown_pct: -40.8, trades: 181 } },
  { params: { fast: 15, slow: 40 }, objective: 0.77, metrics: { sharpe: 0.77, return_pct: 57.4, max_drawdown_pct: -41.7, trades: 268 } },
]
