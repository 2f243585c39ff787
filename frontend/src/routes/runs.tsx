// Routes of the run pages (backtests, optimisations), relative to /w/:ws/.
import type { RouteObject } from 'react-router'
import { BacktestPage } from '../pages/runs/BacktestPage'
import { BacktestsList } from '../pages/runs/BacktestsList'
import { NewBacktest } from '../pages/runs/NewBacktest'
import { NewOptimization } from '../pages/runs/NewOptimization'
import { OptimizationPage } from '../pages/runs/OptimizationPage'
import { OptimizationsList } from '../pages/runs/OptimizationsList'

export const runsRoutes: RouteObject[] = [
  { path: 'backtests', element: <BacktestsList /> },
  { path: 'backtests/new', element: <NewBacktest /> },
  { path: 'backtests/:id', element: <BacktestPage /> },
  { path: 'optimizations', element: <OptimizationsList /> },
  { path: 'optimizations/new', element: <NewOptimization /> },
  { path: 'optimizations/:id', element: <OptimizationPage /> },
]
