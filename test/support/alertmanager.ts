// An Alertmanager webhook payload (version 4), as Alertmanager's webhook_config documentation describes it.

export const PAYLOAD = {
  version: '4',
  groupKey: '{}:{alertname="HighErrorRate"}',
  truncatedAlerts: 0,
  status: 'firing',
  receiver: 'devops-mcp',
  groupLabels: { alertname: 'HighErrorRate' },
  commonLabels: { alertname: 'HighErrorRate', service: 'checkout', severity: 'critical' },
  commonAnnotations: { summary: '5xx above 5%' },
  externalURL: 'http://alertmanager:9093',
  alerts: [
    {
      status: 'firing',
      labels: { alertname: 'HighErrorRate', service: 'checkout', severity: 'critical', instance: 'a:8080' },
      annotations: { summary: '5xx above 5%' },
      startsAt: '2026-12-01T10:00:00.123456789Z',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://prometheus:9090/graph?g0.expr=x',
      fingerprint: 'c6fb4a1e2d0f9b3a',
    },
  ],
};
