// Routes of the run pages (backtests, optimisations), relative to /w/:ws/.
import type { RouteObject } from 'react-router'

export const runsRoutes: RouteObject[] = []
