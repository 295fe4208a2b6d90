// Text bound for an operator's terminal (narration, `audit tail`): a line of it must stay one line and must not
// rewrite the screen, whatever a backend, a model or a client put in it.

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/g;

/** Every C0/C1 control character and DEL (newline and tab too) written as \uXXXX. */
export function escapeControls(text: string): string {
  return text.replace(CONTROLS, c => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
