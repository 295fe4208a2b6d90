// What the Docker engine did, for tests that must show a refusal started nothing.

/** Containers Docker created with `label` between `since` (s) and now: its event log, so removed ones count too. */
export async function createdSince(since: number, label: string): Promise<number> {
  const { default: Docker } = await import('dockerode');
  const stream = await new Docker().getEvents({
    since,
    until: Math.ceil(Date.now() / 1000),
    filters: { type: ['container'], event: ['create'], label: [label] },
  });
  let text = '';
  for await (const chunk of stream as AsyncIterable<Buffer>) text += chunk.toString();
  return text.split('\n').filter(line => line.trim() !== '').length;
}
