// The forecaster's settings. The shipped values are good; startPredictor's options override them in tests.

/**
 * How many of the latest prices the moving average covers. It must be between 1 and HISTORY_LENGTH:
 * with 0 the average divides by zero, and a window longer than the history averages prices that do not
 * exist; either way every prediction is NaN, /predict answers 500 and logs "prediction produced a
 * non-finite value". This is the one line the demo incident breaks and the autonomous loop should fix.
 */
export const MOVING_AVERAGE_WINDOW = 20;

/** Prices kept per symbol: the model refresh appends one and drops the oldest. */
export const HISTORY_LENGTH = 200;

export const MODEL_REFRESH_SECONDS = 30;

/** Past this age the model_freshness check fails. */
export const MODEL_MAX_AGE_SECONDS = 300;

/** Past this much heap plus external (Buffer) memory the memory check fails. */
export const MEMORY_LIMIT_BYTES = 256 * 1024 * 1024;

export const SYMBOLS = ['ACME', 'GLOBEX', 'INITECH', 'UMBRELLA'];
