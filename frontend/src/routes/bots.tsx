// Routes of the bot pages, relative to /w/:ws/.
import type { RouteObject } from 'react-router'
import { BotPage } from '../pages/bots/BotPage'
import { BotsList } from '../pages/bots/BotsList'
import { NewBot } from '../pages/bots/NewBot'

export const botsRoutes: RouteObject[] = [
  { path: 'bots', element: <BotsList /> },
  { path: 'bots/new', element: <NewBot /> },
  { path: 'bots/:id', element: <BotPage /> },
]
