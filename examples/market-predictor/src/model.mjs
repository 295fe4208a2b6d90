// The price model: a seeded random walk per symbol, extended by each refresh, forecast by a moving average.

/** mulberry32: a small, fast PRNG, so every start seeds the same prices. */
function prng(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** FNV-1a, to give each symbol its own seed. */
function hash(text) {
  let h = 0x811c9dc5;
  for (const char of text) h = Math.imul(h ^ char.charCodeAt(0), 0x01000193);
  return h >>> 0;
}

/** One step of at most ±1 %, never below 1. */
const step = (price, random) => Math.max(1, price * (1 + (random() - 0.5) * 0.02));

export function createModel({ symbols, historyLength, now = Date.now() }) {
  const walks = new Map();
  for (const symbol of symbols) {
    const random = prng(hash(symbol));
    const prices = [50 + random() * 150];
    while (prices.length < historyLength) prices.push(step(prices.at(-1), random));
    walks.set(symbol, { random, prices });
  }
  let version = 1;
  let refreshedAt = now;

  return {
    has: symbol => walks.has(symbol),
    prices: symbol => walks.get(symbol)?.prices,
    get version() {
      return version;
    },
    /** Unix milliseconds. */
    get refreshedAt() {
      return refreshedAt;
    },
    refresh(at = Date.now()) {
      for (const walk of walks.values()) {
        walk.prices.push(step(walk.prices.at(-1), walk.random));
        walk.prices.shift();
      }
      version++;
      refreshedAt = at;
    },
    /** Makes the model as old as if its refreshes had stopped `seconds` ago. */
    backdate(seconds, at = Date.now()) {
      refreshedAt = at - seconds * 1000;
    },
  };
}

/** The mean of the last `window` prices. */
export function movingAverage(prices, window) {
  let total = 0;
  for (let i = prices.length - window; i < prices.length; i++) total += prices[i];
  return total / window;
}
