// Configuration failures as a user sees them: the message of the ConfigError that stops the start.
import { expect } from 'vitest';
import { ConfigError } from '../../src/config.ts';

export async function configError(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}
