// Routes of the research pages. `researchRoutes` are relative to /w/:ws/ (datasets,
// strategies, members); `researchTopRoutes` are absolute, behind the session check but
// outside a workspace (accepting an invitation).
import type { RouteObject } from 'react-router'

export const researchRoutes: RouteObject[] = []

export const researchTopRoutes: RouteObject[] = []
