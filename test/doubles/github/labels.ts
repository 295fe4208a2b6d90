// Labels on an issue or pull request (they share numbers): add (creating unknown labels as GitHub does)
// and list.

import { validationFailed } from './errors.ts';
import { isoSeconds } from './git.ts';
import { findPull } from './pulls.ts';
import { bodyObject, json, type RepoRequest, type Route } from './route.ts';
import { labelJson } from './shapes.ts';
import type { Pull, Repo, State } from './state.ts';

const DOCS = {
  addLabels: 'https://docs.github.com/rest/issues/labels#add-labels-to-an-issue',
  listLabels: 'https://docs.github.com/rest/issues/labels#list-labels-for-an-issue',
};

function labelNames(body: unknown): string[] | null {
  // GitHub accepts {labels: [...]}, a bare array, and items as names or {name}.
  const raw = Array.isArray(body) ? body : bodyObject(body).labels;
  if (!Array.isArray(raw)) return null;
  const names: string[] = [];
  for (const item of raw) {
    const name = typeof item === 'string' ? item : bodyObject(item).name;
    if (typeof name !== 'string' || name.trim() === '') return null;
    names.push(name);
  }
  return names;
}

const addLabels: Route<RepoRequest> = {
  method: 'POST',
  path: /^\/issues\/(\d+)\/labels$/,
  write: true,
  run({ repo, params, body, state }) {
    const pull = findPull(repo, params[0], DOCS.addLabels);
    const names = labelNames(body);
    if (!names)
      throw validationFailed([{ resource: 'Label', field: 'name', code: 'invalid' }], DOCS.addLabels);
    for (const name of names) {
      // A label the repository lacks is created on the fly, with GitHub's default colour.
      let label = repo.labels.get(name.toLowerCase());
      if (!label) {
        label = { id: state.nextId(), name, color: 'ededed', description: null };
        repo.labels.set(name.toLowerCase(), label);
      }
      if (!pull.labels.some(l => l.toLowerCase() === name.toLowerCase())) pull.labels.push(label.name);
    }
    pull.updatedAt = isoSeconds(new Date());
    return json(issueLabels(state, repo, pull));
  },
};

function issueLabels(state: State, repo: Repo, pull: Pull): unknown[] {
  return pull.labels.flatMap(name => {
    const label = repo.labels.get(name.toLowerCase());
    return label ? [labelJson(state.urls, repo, label)] : [];
  });
}

const listLabels: Route<RepoRequest> = {
  method: 'GET',
  path: /^\/issues\/(\d+)\/labels$/,
  run({ repo, params, state }) {
    return json(issueLabels(state, repo, findPull(repo, params[0], DOCS.listLabels)));
  },
};

export const labelRoutes: Array<Route<RepoRequest>> = [addLabels, listLabels];
