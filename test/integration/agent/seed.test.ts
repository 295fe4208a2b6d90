// What the loop seeds an investigation with besides the incident: similar past incidents, as the store finds them.
// They are data from the systems watched, and may carry a configured secret (an exporter that leaks a token into a
// label value): it never reaches the model, which could write it into a PR.
import { describe, expect, it } from 'vitest';
import {
  getIncident,
  diagnoseFromIncident,
  loopsClosedAfterEach,
  openIncident,
} from '../../support/agent.ts';

const TOKEN = 'ghp_Secr3tTokenValue1234567890abcd';
const loops = loopsClosedAfterEach();

describe('the seed of an investigation', () => {
  it('names similar past incidents with configured secrets scrubbed from their titles and findings', async () => {
    const { agent, env, model } = await loops.start(
      [
        {
          ...getIncident(),
          expect: {
            user: [
              'Similar past incidents',
              'PredictorErrors on service=svc-[REDACTED]',
              'rejected [REDACTED]',
            ],
          },
        },
        diagnoseFromIncident,
      ],
      { env: { GITHUB_TOKEN: TOKEN } },
    );
    const past = await openIncident(env.ctx, '127.0.0.1:9', 'PredictorErrors', `svc-${TOKEN}`);
    const store = await env.ctx.store();
    store.incidents.addEvent(past, { kind: 'finding', summary: `rejected ${TOKEN}` }, env.ctx.now());
    await agent.handle(1);
    model.assertDone();
    expect(JSON.stringify(model.requests)).not.toContain(TOKEN);
  });
});
