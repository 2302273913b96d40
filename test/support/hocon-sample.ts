// A realistic HOCON config of any size, for the parser's work-bound unit tests and for `npm run bench:hocon`.

/** `blocks` listener blocks of 8 lines each. */
export function listenersConfig(blocks: number): string {
  const lines: string[] = [];
  for (let i = 0; i < blocks; i++) {
    lines.push(
      `listeners.tcp.l${i} {`,
      `  bind = "0.0.0.0:${10000 + i}"`,
      `  max_connections = infinity`,
      `  acceptors = ${16 + (i % 4)}`,
      `  tcp_options { active_n = 100, backlog = 1024, send_timeout = 15s }`,
      `  # comment ${i}`,
      `  zone = default, enable = true, proxy_protocol = false`,
      `}`,
    );
  }
  return lines.join('\n');
}
