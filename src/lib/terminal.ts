// Text bound for a terminal: an operator's (narration, `audit tail`), or a client's that may print a tool result. A
// line of it must stay one line and must not rewrite the screen, whatever a backend, a model or a client put in it.

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/g;

/** Every C0/C1 control character and DEL (newline and tab too) written as \uXXXX. */
export function escapeControls(text: string): string {
  return text.replace(CONTROLS, c => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNPRINTABLE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNPRINTABLE_BUT_NEWLINE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Text from a backend or a container (a log line, a label value, a test's output) made safe to show: a C0 control
 * but tab (and newline, when `newlines` keeps them) as its Unicode control picture (ESC as ␛, CR as ␍, NUL as ␀),
 * DEL as ␡, and a C1 control or a bidi embedding, override or isolate as U+FFFD. No escape sequence then reaches a
 * client's terminal raw, no CR overwrites what a line said before it, and no U+202E turns `txt.exe` into `exe.txt`
 * on screen. Each character becomes one, so a cut falls where it would have.
 */
export function printable(text: string, options: { newlines?: boolean } = {}): string {
  return text.replace(options.newlines ? UNPRINTABLE_BUT_NEWLINE : UNPRINTABLE, c => {
    const code = c.charCodeAt(0);
    if (code < 0x20) return String.fromCharCode(0x2400 + code);
    return code === 0x7f ? '\u2421' : '\ufffd';
  });
}
