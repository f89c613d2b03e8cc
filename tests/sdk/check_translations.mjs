// Parses what rebound's translation produced (tests/sdk/translate_fixtures.cc)
// with the official SDKs, as a caller's code would: the OpenAI SDK for
// answers translated from Anthropic, the Anthropic SDK for the reverse. The
// SDKs' stream helpers accumulate the events into a final message (the
// OpenAI one refuses a chunk without a role); the asserts then check what
// they assembled, which catches deltas the helpers drop.
// Usage: node check_translations.mjs DIR
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';

const dir = process.argv[2];
const read = (name) => readFileSync(`${dir}/${name}`, 'utf8');
const serving = (text, type) => async () =>
  new Response(text, { status: 200, headers: { 'content-type': type } });
const openai = (text, type) =>
  new OpenAI({ apiKey: 'k', baseURL: 'http://rebound.invalid/v1', fetch: serving(text, type) });
const anthropic = (text, type) =>
  new Anthropic({ apiKey: 'k', baseURL: 'http://rebound.invalid', fetch: serving(text, type) });
const question = [{ role: 'user', content: 'Weather?' }];

// Anthropic's answer, as an OpenAI caller gets it.
{
  const c = await openai(read('openai.json'), 'application/json').chat.completions.create({
    model: 'm', messages: question,
  });
  assert.equal(c.object, 'chat.completion');
  assert.equal(c.model, 'served-model');
  assert.equal(c.choices[0].message.content, 'Checking the weather.');
  assert.equal(c.choices[0].finish_reason, 'tool_calls');
  const call = c.choices[0].message.tool_calls[0];
  assert.equal(call.id, 'toolu_1');
  assert.equal(call.function.name, 'weather');
  assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Oslo' });
  assert.equal(c.usage.prompt_tokens, 42);
  assert.equal(c.usage.completion_tokens, 9);
  assert.equal(c.usage.total_tokens, 51);
  assert.equal(c.usage.prompt_tokens_details.cached_tokens, 30);
}

// Anthropic's stream, as an OpenAI caller gets it.
{
  const stream = openai(read('openai.sse'), 'text/event-stream').chat.completions.stream({
    model: 'm', messages: question, stream_options: { include_usage: true },
  });
  const c = await stream.finalChatCompletion();
  assert.equal(c.choices[0].message.content, 'Checking now.');
  assert.equal(c.choices[0].finish_reason, 'tool_calls');
  assert.equal(c.choices[0].message.tool_calls.length, 1, 'fragments make one call');
  const call = c.choices[0].message.tool_calls[0];
  assert.equal(call.id, 'toolu_2');
  assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Oslo' });
  assert.equal(c.usage.completion_tokens, 15);
}

// OpenAI's answer, as an Anthropic caller gets it.
{
  const m = await anthropic(read('anthropic.json'), 'application/json').messages.create({
    model: 'm', max_tokens: 100, messages: question,
  });
  assert.equal(m.type, 'message');
  assert.equal(m.model, 'served-model');
  assert.equal(m.stop_reason, 'tool_use');
  assert.equal(m.content[0].type, 'text');
  assert.equal(m.content[0].text, 'Checking the weather.');
  assert.equal(m.content[1].type, 'tool_use');
  assert.equal(m.content[1].id, 'call_1');
  assert.deepEqual(m.content[1].input, { city: 'Rome' });
  assert.equal(m.usage.input_tokens, 12);
  assert.equal(m.usage.cache_read_input_tokens, 30);
  assert.equal(m.usage.output_tokens, 9);
}

// OpenAI's stream, as an Anthropic caller gets it.
{
  const stream = anthropic(read('anthropic.sse'), 'text/event-stream').messages.stream({
    model: 'm', max_tokens: 100, messages: question,
  });
  const m = await stream.finalMessage();
  assert.equal(m.stop_reason, 'tool_use');
  assert.equal(m.content.length, 2);
  assert.equal(m.content[0].text, 'Checking now.');
  assert.equal(m.content[1].name, 'weather');
  assert.deepEqual(m.content[1].input, { city: 'Rome' });
  assert.equal(m.usage.output_tokens, 15);
}

console.log('the official SDKs parse every translated answer');
