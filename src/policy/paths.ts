// Protected paths: globs a change may not touch unless the repository's policy lifts them (`pr.allowPaths`).

/**
 * A glob as a RegExp over a whole relative path: `**` any number of segments (also none), `*` any run within a
 * segment (dotfiles included), `?` one character. Matching ignores case, so `.GitHub/` is protected like `.github/`.
 */
export function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const char = glob.charAt(i);
    if (char === '*' && glob[i + 1] === '*') {
      // "**/" matches zero or more whole segments; a trailing "**" matches everything below.
      if (glob[i + 2] === '/') {
        out += '(?:[^/]+/)*';
        i += 2;
      } else {
        out += '.*';
        i += 1;
      }
    } else if (char === '*') out += '[^/]*';
    else if (char === '?') out += '[^/]';
    else out += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`, 'i');
}

/** The paths of `paths` that `protectedGlobs` protect and `allowGlobs` do not lift. */
export function protectedPathsIn(
  paths: readonly string[],
  protectedGlobs: readonly string[],
  allowGlobs: readonly string[],
): string[] {
  return paths.filter(isProtectedBy(protectedGlobs, allowGlobs));
}

/** Whether `protectedGlobs` protect a path and `allowGlobs` do not lift it, the globs compiled once for many paths. */
export function isProtectedBy(
  protectedGlobs: readonly string[],
  allowGlobs: readonly string[],
): (path: string) => boolean {
  const protect = protectedGlobs.map(globToRegExp);
  const allow = allowGlobs.map(globToRegExp);
  return path => protect.some(glob => glob.test(path)) && !allow.some(glob => glob.test(path));
}

/** Paths GitHub only lets a token with the `workflow` scope (Workflows permission) write. */
export function isWorkflowPath(path: string): boolean {
  return /^\.github\/workflows\//i.test(path);
}
