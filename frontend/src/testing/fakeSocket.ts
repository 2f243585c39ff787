// A stand-in for the browser's WebSocket in tests (`vi.stubGlobal('WebSocket', FakeSocket)`):
// it opens at once, answers every subscribe with `subscribed`, and lets a test push server
// messages with `push`.
export class FakeSocket {
  /** Every socket opened since the last `reset`, oldest first. */
  static all: FakeSocket[] = []
  static last: FakeSocket | null = null
  url: string
  sent: string[] = []
  closed = false
  onopen: (() => void) | null = null
  onmessage: ((m: { data: string }) => void) | null = null
  onclose: (() => void) | null = null
  constructor(url: string) {
    this.url = url
    FakeSocket.all.push(this)
    FakeSocket.last = this
    setTimeout(() => this.onopen?.(), 0)
  }
  send(s: string) {
    this.sent.push(s)
    const m = JSON.parse(s)
    if (m.op === 'subscribe') setTimeout(() => this.push({ type: 'subscribed', channel: m.channel }), 0)
  }
  close() {
    this.closed = true
  }
  push(msg: object) {
    this.onmessage?.({ data: JSON.stringify(msg) })
  }
  /** The channels this socket subscribed to. */
  channels(): string[] {
    return this.sent.map((s) => JSON.parse(s)).filter((m) => m.op === 'subscribe').map((m) => m.channel)
  }
  /** The open socket subscribed to `channel` (the latest one). */
  static on(channel: string): FakeSocket | undefined {
    return FakeSocket.all.filter((s) => !s.closed && s.channels().includes(channel)).pop()
  }
  /** The server drops the connection (the page reconnects with backoff). */
  drop() {
    this.closed = true
    this.onclose?.()
  }
  static reset() {
    FakeSocket.all = []
    FakeSocket.last = null
  }
}
