// Routes of the portfolio overview, relative to /w/:ws/.
import type { RouteObject } from 'react-router'
import { Portfolio } from '../pages/portfolio/Portfolio'

export const portfolioRoutes: RouteObject[] = [{ path: 'portfolio', element: <Portfolio /> }]
