// Display name of a bot's strategy: the saved strategy's name (with its version), else the
// template's or spec's name.
import { useQuery } from '@tanstack/react-query'
import { api, type Page, type Strategy } from '../../api/client'
import { configOf, strategyLabel, type Bot } from '../../lib/bots'
import { useWsBase } from '../../session'

export function useBotStrategyName() {
  const base = useWsBase()
  const strategies = useQuery({ queryKey: ['runs:strategies', base], queryFn: () => api.get<Page<Strategy>>(`${base}/strategies?limit=500`) })
  return (bot: Bot): string => {
    const run = configOf(bot).run ?? {}
    const s = run.strategy_id ? strategies.data?.items.find((x) => x.id === run.strategy_id) : undefined
    if (s) return `${s.name}${run.strategy_version ? ` v${run.strategy_version}` : ''}`
    return strategyLabel(configOf(bot))
  }
}
