// Tuning of the forecaster. These values ship with the service; tests may override them at start.

/**
 * How many recent prices the moving average covers. It must be at least 1: with 0 the average divides by
 * zero, every prediction is NaN and /predict answers 500 — the incident the autonomous loop is meant to
 * find in the metrics and logs and fix with a one-line pull request.
 */
export const MOVING_AVERAGE_WINDOW = 20;

/** The model is refreshed this often; /health calls it stale past MODEL_MAX_AGE_SECONDS. */
export const MODEL_REFRESH_SECONDS = 30;
export const MODEL_MAX_AGE_SECONDS = 300;

/** Heap use above which the memory check fails. */
export const MEMORY_LIMIT_BYTES = 256 * 1024 * 1024;

export const SYMBOLS = ['ACME', 'GLOBEX', 'INITECH', 'UMBRELLA'];
