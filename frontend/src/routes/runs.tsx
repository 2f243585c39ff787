// Routes of the run pages (backtests, optimisations, walk-forward analyses), relative to /w/:ws/.
import type { RouteObject } from 'react-router'
import { BacktestPage } from '../pages/runs/BacktestPage'
import { BacktestsList } from '../pages/runs/BacktestsList'
import { NewBacktest } from '../pages/runs/NewBacktest'
import { NewOptimization } from '../pages/runs/NewOptimization'
import { OptimizationPage } from '../pages/runs/OptimizationPage'
import { OptimizationsList } from '../pages/runs/OptimizationsList'
import { WalkForwardList } from '../pages/runs/WalkForwardList'
import { WalkForwardNew } from '../pages/runs/WalkForwardNew'
import { WalkForwardPage } from '../pages/runs/WalkForwardPage'

export const runsRoutes: RouteObject[] = [
  { path: 'backtests', element: <BacktestsList /> },
  { path: 'backtests/new', element: <NewBacktest /> },
  { path: 'backtests/:id', element: <BacktestPage /> },
  { path: 'optimizations', element: <OptimizationsList /> },
  { path: 'optimizations/new', element: <NewOptimization /> },
  { path: 'optimizations/:id', element: <OptimizationPage /> },
  { path: 'walkforwards', element: <WalkForwardList /> },
  { path: 'walkforwards/new', element: <WalkForwardNew /> },
  { path: 'walkforwards/:id', element: <WalkForwardPage /> },
]
