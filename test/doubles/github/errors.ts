// The error bodies GitHub's REST API answers with: basic-error {message, documentation_url, status} and
// validation-error {message: "Validation Failed", errors: [...]}. GitHub has sent `status` as a string in
// error bodies since 2024 (e.g. {"message":"Reference already exists",...,"status":"422"}).

export const DOCS = 'https://docs.github.com/rest';

export interface ValidationErrorItem {
  resource: string;
  code: string;
  field?: string;
  message?: string;
}

export class GithubError extends Error {
  readonly status: number;
  readonly documentationUrl: string;
  readonly errors: ValidationErrorItem[] | undefined;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    message: string,
    opts: {
      documentationUrl?: string;
      errors?: ValidationErrorItem[];
      headers?: Record<string, string>;
    } = {},
  ) {
    super(message);
    this.status = status;
    this.documentationUrl = opts.documentationUrl ?? DOCS;
    this.errors = opts.errors;
    this.headers = opts.headers ?? {};
  }

  body(): Record<string, unknown> {
    return {
      message: this.message,
      ...(this.errors ? { errors: this.errors } : {}),
      documentation_url: this.documentationUrl,
      status: String(this.status),
    };
  }
}

/** GitHub answers 404 for what does not exist and for what the token may not see, alike. */
export const notFound = (documentationUrl?: string): GithubError =>
  new GithubError(404, 'Not Found', { documentationUrl });

/** A plain 422 with a message (the git-data endpoints answer this way). */
export const unprocessable = (message: string, documentationUrl?: string): GithubError =>
  new GithubError(422, message, { documentationUrl });

/** A 422 "Validation Failed" with its errors list (pulls, labels). */
export const validationFailed = (errors: ValidationErrorItem[], documentationUrl?: string): GithubError =>
  new GithubError(422, 'Validation Failed', { errors, documentationUrl });

/** 400 for a body that is not JSON, as GitHub: "Problems parsing JSON". */
export const badJson = (): GithubError => new GithubError(400, 'Problems parsing JSON');

/**
 * What the double does not implement, so a test fails loudly instead of passing on a guess. A 400, which
 * @octokit/plugin-retry does not retry (a 5xx would be retried three times, with back-off).
 */
export const unsupported = (feature: string): GithubError =>
  new GithubError(400, `not supported by the GitHub test double: ${feature}`);
