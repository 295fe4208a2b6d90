import { describe, expect, it } from 'vitest';
import { printable } from '../../../src/lib/terminal.ts';

describe('printable', () => {
  it('shows C0 controls but tab as their pictures, DEL as ␡, and C1 and bidi controls as U+FFFD', () => {
    expect(printable('ok \u001b[2K\r\u001b[32mPASSED\u001b[0m')).toBe('ok ␛[2K␍␛[32mPASSED␛[0m');
    expect(printable('a\u0000b\u0007c\nd\te\u007f')).toBe('a␀b␇c␊d\te␡');
    expect(printable('\u009b31m \u0085')).toBe('\ufffd31m \ufffd');
    expect(printable('\u202etxt.exe\u202c \u2066x\u2069 \u202a\u202b\u202d')).toBe(
      '\ufffdtxt.exe\ufffd \ufffdx\ufffd \ufffd\ufffd\ufffd',
    );
  });

  it('leaves other text as it is, length included, so that a line is cut where it would have been', () => {
    const text = 'ошибка 界 😀 \u200d tab\there';
    expect(printable(text)).toBe(text);
    expect(printable('\u001b\u202e\u0085').length).toBe(3);
  });

  it("keeps newlines when asked, as a test run's output has them", () => {
    expect(printable('a\nb\r\n\u001b[0m', { newlines: true })).toBe('a\nb␍\n␛[0m');
  });
});
