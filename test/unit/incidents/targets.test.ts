// Which target an alert points at, from its labels as Prometheus writes them.
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../../src/config.ts';
import { targetMatcher } from '../../../src/incidents/targets.ts';

const matcher = () =>
  targetMatcher(
    configSchema.parse({
      predictor: {
        url: 'http://10.0.0.5:80',
        targets: { checkout: 'https://shop.internal/', api: 'http://api.internal:8080' },
      },
    }).predictor,
  );

describe('targetMatcher', () => {
  it("matches an instance label on a URL's default port, which the URL itself leaves out", () => {
    const targets = matcher();
    // Prometheus's instance label always carries the port it scraped.
    expect(targets.of({ instance: '10.0.0.5:80' })).toBe('default');
    expect(targets.of({ instance: 'shop.internal:443' })).toBe('checkout');
    expect(targets.of({ instance: 'api.internal:8080' })).toBe('api');
  });

  it('matches a bare host for a default port, a target label, and nothing else', () => {
    const targets = matcher();
    expect(targets.of({ instance: '10.0.0.5' })).toBe('default');
    expect(targets.of({ instance: 'shop.internal' })).toBe('checkout');
    expect(targets.of({ target: 'api' })).toBe('api');
    // Another port of the same host is another service.
    expect(targets.of({ instance: 'api.internal:9090' })).toBeUndefined();
    expect(targets.of({ instance: 'api.internal' })).toBeUndefined();
    expect(targets.of({ instance: 'shop.internal:80' })).toBeUndefined();
    expect(targets.names).toEqual(['default', 'checkout', 'api']);
  });
});
