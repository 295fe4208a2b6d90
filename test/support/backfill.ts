// Historical series with known figures, written as OpenMetrics for `promtool tsdb create-blocks-from`.

export interface Backfill {
  text: string;
  /** Where the notable things are, for assertions. */
  errorsSpikeAt: number;
  errorsStart: number;
  errorsEnd: number;
  fleetStart: number;
  fleetEnd: number;
}

/**
 * - `predictor_error_ratio{service="market-predictor"}`: 0.01 every 15 s over two hours, one 0.9 burst.
 * - `fleet_load{instance="host-N"}` for 40 hosts: one sample a second over ten minutes (the bench's range).
 * Both end well before `now`, so they sit in historical blocks, not the head.
 */
export function makeBackfill(now: number): Backfill {
  const lines: string[] = [];
  const errorsEnd = Math.floor((now - 20 * 60) / 60) * 60;
  const errorsStart = errorsEnd - 2 * 3600;
  const errorsSpikeAt = errorsStart + 3600;
  lines.push(
    '# HELP predictor_error_ratio Share of predictions that failed.',
    '# TYPE predictor_error_ratio gauge',
  );
  for (let t = errorsStart; t <= errorsEnd; t += 15) {
    const value = t === errorsSpikeAt ? 0.9 : 0.01;
    lines.push(`predictor_error_ratio{service="market-predictor"} ${value} ${t}`);
  }
  const fleetEnd = errorsEnd;
  const fleetStart = fleetEnd - 600;
  lines.push('# HELP fleet_load Load of each host.', '# TYPE fleet_load gauge');
  for (let host = 0; host < 40; host++) {
    for (let t = fleetStart; t <= fleetEnd; t++) {
      const value = host + Math.sin((t - fleetStart) / 30);
      lines.push(`fleet_load{instance="host-${host}",job="fleet"} ${value.toFixed(6)} ${t}`);
    }
  }
  lines.push('# EOF');
  return { text: `${lines.join('\n')}\n`, errorsSpikeAt, errorsStart, errorsEnd, fleetStart, fleetEnd };
}
