// Parses what a caller received from rebound-server after a cross-API
// failover (tests/integration/cross_api_test.cc writes it) with the
// official SDKs, as the caller's own code would, and checks the parsed
// objects against what the test expected from the fake provider.
// Usage: node check_gateway_answers.mjs DIR
//   DIR/cases.json: [{"file", "api": "openai"|"anthropic", "stream": bool,
//                     "text", "finish", "tool": {"name", "args"} | null,
//                     "output_tokens"}]
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';

const dir = process.argv[2];
const read = (name) => readFileSync(`${dir}/${name}`, 'utf8');
const serving = (text, type) => async () =>
  new Response(text, { status: 200, headers: { 'content-type': type } });
const question = [{ role: 'user', content: 'Hi' }];

async function checkOpenAi(c) {
  const type = c.stream ? 'text/event-stream' : 'application/json';
  const client = new OpenAI({ apiKey: 'k', baseURL: 'http://rebound.invalid/v1',
                              fetch: serving(read(c.file), type) });
  const completion = c.stream
    ? await client.chat.completions.stream({ model: 'm', messages: question,
                                             stream_options: { include_usage: true } })
        .finalChatCompletion()
    : await client.chat.completions.create({ model: 'm', messages: question });
  const choice = completion.choices[0];
  assert.equal(choice.message.content ?? '', c.text, `${c.file}: content`);
  assert.equal(choice.finish_reason, c.finish, `${c.file}: finish_reason`);
  if (c.tool) {
    assert.equal(choice.message.tool_calls.length, 1, `${c.file}: one tool call`);
    const call = choice.message.tool_calls[0];
    assert.equal(call.function.name, c.tool.name);
    assert.deepEqual(JSON.parse(call.function.arguments), c.tool.args);
    assert.ok(call.id, `${c.file}: the tool call has an id`);
  }
  assert.equal(completion.usage.completion_tokens, c.output_tokens, `${c.file}: usage`);
}

async function checkAnthropic(c) {
  const type = c.stream ? 'text/event-stream' : 'application/json';
  const client = new Anthropic({ apiKey: 'k', baseURL: 'http://rebound.invalid',
                                 fetch: serving(read(c.file), type) });
  const message = c.stream
    ? await client.messages.stream({ model: 'm', max_tokens: 64, messages: question })
        .finalMessage()
    : await client.messages.create({ model: 'm', max_tokens: 64, messages: question });
  const text = message.content.filter((b) => b.type === 'text').map((b) => b.text).join('');
  assert.equal(text, c.text, `${c.file}: text`);
  assert.equal(message.stop_reason, c.finish, `${c.file}: stop_reason`);
  if (c.tool) {
    const uses = message.content.filter((b) => b.type === 'tool_use');
    assert.equal(uses.length, 1, `${c.file}: one tool_use block`);
    assert.equal(uses[0].name, c.tool.name);
    assert.deepEqual(uses[0].input, c.tool.args);
  }
  assert.equal(message.usage.output_tokens, c.output_tokens, `${c.file}: usage`);
}

const cases = JSON.parse(read('cases.json'));
assert.ok(cases.length > 0, 'no cases');
for (const c of cases) {
  await (c.api === 'openai' ? checkOpenAi(c) : checkAnthropic(c));
  console.log(`ok ${c.file}`);
}
