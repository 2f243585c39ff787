// Routes of the research pages. `researchRoutes` are relative to /w/:ws/ (datasets,
// strategies, members); `researchTopRoutes` are absolute, behind the session check but
// outside a workspace (accepting an invitation).
import { CredentialsPage } from '../pages/research/Credentials'
import type { RouteObject } from 'react-router'
import { DatasetDetailPage, DatasetsPage } from '../pages/research/Datasets'
import { MarketsPage } from '../pages/research/Markets'
import { InviteAcceptPage, MembersPage } from '../pages/research/Members'
import { NewStrategyPage, StrategiesPage } from '../pages/research/Strategies'
import { StrategyDetailPage } from '../pages/research/StrategyDetail'

export const researchRoutes: RouteObject[] = [
  { path: 'datasets', element: <DatasetsPage /> },
  { path: 'datasets/:id', element: <DatasetDetailPage /> },
  { path: 'strategies', element: <StrategiesPage /> },
  { path: 'strategies/new', element: <NewStrategyPage /> },
  { path: 'strategies/:id', element: <StrategyDetailPage /> },
  { path: 'members', element: <MembersPage /> },
  { path: 'credentials', element: <CredentialsPage /> },
  { path: 'markets', element: <MarketsPage /> },
]

export const researchTopRoutes: RouteObject[] = [{ path: '/invite/:token', element: <InviteAcceptPage /> }]
