// Review requests on a pull request: request and list. Reviewers must be collaborators (the seed's
// `collaborators`), never the pull request's author, with GitHub's 422 messages.

import { unprocessable } from './errors.ts';
import { isoSeconds } from './git.ts';
import { findPull, pullJson } from './pulls.ts';
import { bodyObject, json, type RepoRequest, type Route } from './route.ts';
import { reviewerUser } from './shapes.ts';
import { USER } from './state.ts';

const DOCS = {
  request: 'https://docs.github.com/rest/pulls/review-requests#request-reviewers-for-a-pull-request',
  list: 'https://docs.github.com/rest/pulls/review-requests#get-all-requested-reviewers-for-a-pull-request',
};

function logins(value: unknown): string[] | null {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some(v => typeof v !== 'string')) return null;
  return value as string[];
}

const requestReviewers: Route<RepoRequest> = {
  method: 'POST',
  path: /^\/pulls\/(\d+)\/requested_reviewers$/,
  write: true,
  async run({ repo, params, body, state }) {
    const pull = findPull(repo, params[0], DOCS.request);
    const b = bodyObject(body);
    const users = logins(b.reviewers);
    const teams = logins(b.team_reviewers);
    if (!users || !teams)
      throw unprocessable('Invalid request.\n\n"reviewers" must be an array of strings.', DOCS.request);
    // peter-evans/create-pull-request#1835, dependabot-core github.rb invalid_reviewer?.
    if (users.some(u => u.toLowerCase() === USER.login)) {
      throw unprocessable('Review cannot be requested from pull request author.', DOCS.request);
    }
    // peter-evans/create-pull-request#4138. The double has no teams, so any team is not a collaborator.
    const known = new Set([...repo.collaborators].map(c => c.toLowerCase()));
    if (teams.length > 0 || users.some(u => !known.has(u.toLowerCase()))) {
      throw unprocessable(
        `Reviews may only be requested from collaborators. One or more of the users or teams you specified is not a collaborator of the ${repo.fullName} repository.`,
        DOCS.request,
      );
    }
    for (const user of users) {
      if (!pull.reviewers.some(r => r.toLowerCase() === user.toLowerCase())) pull.reviewers.push(user);
    }
    pull.updatedAt = isoSeconds(new Date());
    return json(await pullJson(state, repo, pull, false), 201);
  },
};

const listReviewers: Route<RepoRequest> = {
  method: 'GET',
  path: /^\/pulls\/(\d+)\/requested_reviewers$/,
  run({ repo, params, state }) {
    const pull = findPull(repo, params[0], DOCS.list);
    return json({ users: pull.reviewers.map(login => reviewerUser(state.urls, repo, login)), teams: [] });
  },
};

export const reviewerRoutes: Array<Route<RepoRequest>> = [requestReviewers, listReviewers];
