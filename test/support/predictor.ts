// The market predictor demo service, started in-process for the tests that watch it.

import {
  startPredictor as start,
  type PredictorOptions,
  type RunningPredictor,
} from '../../examples/market-predictor/src/app.mjs';

export type Predictor = RunningPredictor;

export function startPredictor(options: PredictorOptions = {}): Promise<Predictor> {
  return start({ port: 0, log: () => undefined, ...options });
}
