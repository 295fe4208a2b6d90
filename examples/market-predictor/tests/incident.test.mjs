// MOVING_AVERAGE_WINDOW in src/config.mjs is the value the demo incident breaks: these tests show that a
// bad window takes /predict down visibly, and that the shipped one does not.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HISTORY_LENGTH, MOVING_AVERAGE_WINDOW, SYMBOLS } from '../src/config.mjs';
import { predictMany, scrape, startCapturing, total } from './helpers.mjs';

/** Serves `perSymbol` predictions of every symbol; returns the statuses, metrics and logs. */
async function serve(options, perSymbol) {
  const { predictor, logs } = await startCapturing(options);
  try {
    const statuses = [];
    for (const symbol of SYMBOLS) statuses.push(...(await predictMany(predictor.url, perSymbol, symbol)));
    return { statuses, metrics: await scrape(predictor.url), logs };
  } finally {
    await predictor.close();
  }
}

const failedPredictions = metrics =>
  total(metrics, 'http_requests_total', l => l.route === '/predict' && /^5/.test(l.code));

describe('the moving-average window', () => {
  it('ships with a value that serves every prediction', async () => {
    assert.ok(MOVING_AVERAGE_WINDOW >= 1 && MOVING_AVERAGE_WINDOW <= HISTORY_LENGTH);
    const { statuses, metrics, logs } = await serve({}, 10);
    assert.ok(statuses.every(s => s === 200));
    assert.equal(failedPredictions(metrics), 0);
    assert.equal(total(metrics, 'prediction_errors_total'), 0);
    assert.deepEqual(
      logs.filter(e => e.level === 'error'),
      [],
    );
  });

  for (const [window, why] of [
    [0, 'divides by zero'],
    [HISTORY_LENGTH + 1, 'reaches past the history'],
  ]) {
    it(`set to ${window} ${why}: every prediction fails with 500, in the metrics and the logs`, async () => {
      const { statuses, metrics, logs } = await serve({ window }, 3);
      const count = SYMBOLS.length * 3;
      assert.deepEqual(statuses, Array(count).fill(500));
      assert.equal(failedPredictions(metrics), count);
      assert.equal(
        total(metrics, 'prediction_errors_total', l => l.reason === 'non_finite'),
        count,
      );
      assert.equal(total(metrics, 'predictions_total'), 0);
      // One error line per failed request, naming the cause.
      const errors = logs.filter(e => e.level === 'error');
      assert.equal(errors.length, count);
      for (const entry of errors) {
        assert.equal(entry.msg, 'prediction produced a non-finite value');
        assert.equal(entry.route, '/predict');
        assert.equal(entry.status, 500);
        assert.equal(entry.window, window);
        assert.equal(entry.value, 'NaN');
        assert.ok(SYMBOLS.includes(entry.symbol) && entry.request_id);
      }
    });
  }

  it(`works up to the whole history (${HISTORY_LENGTH})`, async () => {
    const { statuses } = await serve({ window: HISTORY_LENGTH }, 1);
    assert.ok(statuses.every(s => s === 200));
  });
});
