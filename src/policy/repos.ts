// The repository allow-list: `owner/repo` or `owner/*`, compared case-insensitively as GitHub does.

export function repoAllowed(repo: string, patterns: readonly string[]): boolean {
  const [owner, name] = repo.normalize('NFC').toLowerCase().split('/');
  if (!owner || !name) return false;
  return patterns.some(pattern => {
    const [allowedOwner, allowedName] = pattern.toLowerCase().split('/');
    return allowedOwner === owner && (allowedName === '*' || allowedName === name);
  });
}
