// The official SDKs as unmodified clients of rebound's HTTP front door:
// only the base URL and the key change. tests/integration/http_front_door_test.cc
// starts the gateway (TLS, a caller token, an OpenAI-API and an
// Anthropic-API fake provider failing over to each other) and runs this.
// maxRetries is 0 so that the SDKs' own retries do not hide rebound's.
// Usage: node front_door.mjs BASE_URL TOKEN OPENAI_FAKE_URL ANTHROPIC_FAKE_URL
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';

const [baseUrl, token, openaiFake, anthropicFake] = process.argv.slice(2);
assert.ok(anthropicFake, 'usage: node front_door.mjs BASE_URL TOKEN OPENAI_FAKE ANTHROPIC_FAKE');

const options = { maxRetries: 0, timeout: 20_000 };
const openai = new OpenAI({ apiKey: token, baseURL: `${baseUrl}/v1`, ...options });
const anthropic = new Anthropic({ apiKey: token, baseURL: baseUrl, ...options });
const question = [{ role: 'user', content: 'Hi' }];
const chatModel = 'openai/gpt-4o';
const messagesModel = 'anthropic/claude-sonnet';

// The fakes' control API: one fault spec per upstream request, then healthy.
async function script(fake, specs) {
  const r = await fetch(`${fake}/_fake/script`, { method: 'PUT', body: specs.map((s) => `${s}\n`).join('') });
  assert.equal(r.status, 200, `script ${fake}`);
}
async function requests(fake) {
  return (await fetch(`${fake}/_fake/requests`)).json();
}
async function reset() {
  for (const fake of [openaiFake, anthropicFake]) {
    await script(fake, []);
    assert.equal((await fetch(`${fake}/_fake/requests`, { method: 'DELETE' })).status, 200);
  }
}
const header = (r, name) => (r.headers.find(([n]) => n.toLowerCase() === name) ?? [])[1];

async function expectThrows(fn, Type, check = () => {}) {
  try {
    await fn();
  } catch (e) {
    assert.ok(e instanceof Type, `expected ${Type.name}, got ${e?.constructor?.name}: ${e?.message}`);
    check(e);
    return;
  }
  assert.fail(`expected ${Type.name}, nothing was thrown`);
}

const cases = {
  async chatUnary() {
    const c = await openai.chat.completions.create({ model: chatModel, messages: question });
    assert.equal(c.object, 'chat.completion');
    assert.ok(c.choices[0].message.content.length > 0);
    const got = await requests(openaiFake);
    assert.equal(got.length, 1);
    assert.equal(got[0].path, '/v1/chat/completions');
    assert.equal(header(got[0], 'authorization'), 'Bearer key-openai');
    assert.ok(!JSON.stringify(got[0].headers).includes(token), 'the caller token went upstream');
  },

  async chatStream() {
    const stream = await openai.chat.completions.create({
      model: chatModel, messages: question, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      usage = chunk.usage ?? usage;
    }
    assert.ok(text.length > 0);
    assert.ok(usage && usage.completion_tokens > 0, 'usage in the last chunk');
  },

  async messagesUnaryAndStream() {
    const m = await anthropic.messages.create({ model: messagesModel, max_tokens: 64, messages: question });
    assert.equal(m.type, 'message');
    assert.ok(m.content[0].text.length > 0);
    assert.ok(m.stop_reason);
    const final = await anthropic.messages.stream({ model: messagesModel, max_tokens: 64, messages: question })
      .finalMessage();
    assert.ok(final.content[0].text.length > 0);
    assert.ok(final.stop_reason);
  },

  async tools() {
    const spec = 'tool_call=get_weather;tool_args={"city":"Paris"}';
    await script(openaiFake, [spec]);
    const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }];
    const c = await openai.chat.completions.create({ model: chatModel, messages: question, tools });
    assert.equal(c.choices[0].finish_reason, 'tool_calls');
    const call = c.choices[0].message.tool_calls[0];
    assert.equal(call.function.name, 'get_weather');
    assert.equal(JSON.parse(call.function.arguments).city, 'Paris');

    await script(anthropicFake, [spec]);
    const m = await anthropic.messages.create({
      model: messagesModel, max_tokens: 64, messages: question,
      tools: [{ name: 'get_weather', input_schema: { type: 'object' } }] });
    assert.equal(m.stop_reason, 'tool_use');
    const use = m.content.find((b) => b.type === 'tool_use');
    assert.equal(use.name, 'get_weather');
    assert.equal(use.input.city, 'Paris');
  },

  async chatFailsOverToAnthropic() {
    await script(openaiFake, ['status=429', 'status=429']);
    const { data, response } = await openai.chat.completions
      .create({ model: chatModel, messages: question }).withResponse();
    assert.equal(response.headers.get('x-rebound-served-model'), messagesModel);
    assert.equal(data.object, 'chat.completion');
    assert.ok(data.choices[0].message.content.length > 0);
    const stream = await openai.chat.completions.create({ model: chatModel, messages: question, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    assert.ok(text.length > 0);
    const got = await requests(anthropicFake);
    assert.equal(got.length, 2);
    assert.ok(got.every((r) => r.path === '/v1/messages'));
  },

  async messagesFailOverToOpenAi() {
    await script(anthropicFake, ['status=529', 'status=529']);
    const { data, response } = await anthropic.messages
      .create({ model: messagesModel, max_tokens: 64, messages: question }).withResponse();
    assert.equal(response.headers.get('x-rebound-served-model'), chatModel);
    assert.equal(data.type, 'message');
    assert.ok(data.content[0].text.length > 0);
    const final = await anthropic.messages.stream({ model: messagesModel, max_tokens: 64, messages: question })
      .finalMessage();
    assert.ok(final.content[0].text.length > 0);
    assert.equal((await requests(openaiFake)).length, 2);
  },

  async streamCutMidwayRaises() {
    await script(openaiFake, ['token_interval_ms=20;cut_after_events=3']);
    let chunks = 0;
    await expectThrows(async () => {
      const stream = await openai.chat.completions.create({ model: chatModel, messages: question, stream: true });
      for await (const _ of stream) ++chunks;
    }, OpenAI.APIError, (e) => assert.match(e.message, /stream|interrupt|provider/i));
    assert.ok(chunks > 0, 'events arrived before the failure');

    await script(anthropicFake, ['token_interval_ms=20;cut_after_events=4']);
    let events = 0;
    await expectThrows(async () => {
      const stream = await anthropic.messages.create({
        model: messagesModel, max_tokens: 64, messages: question, stream: true });
      for await (const _ of stream) ++events;
    }, Anthropic.APIError);
    assert.ok(events > 0, 'events arrived before the failure');
  },

  async wrongTokenIs401() {
    const bad = { apiKey: 'not-the-token', ...options };
    await expectThrows(() => new OpenAI({ ...bad, baseURL: `${baseUrl}/v1` }).chat.completions
      .create({ model: chatModel, messages: question }), OpenAI.AuthenticationError,
    (e) => assert.equal(e.status, 401));
    await expectThrows(() => new Anthropic({ ...bad, baseURL: baseUrl }).messages
      .create({ model: messagesModel, max_tokens: 8, messages: question }), Anthropic.AuthenticationError,
    (e) => assert.equal(e.status, 401));
  },

  async unknownModelIs404() {
    await expectThrows(() => openai.chat.completions.create({ model: 'gpt-9', messages: question }),
      OpenAI.NotFoundError, (e) => assert.equal(e.code, 'model_not_found'));
    await expectThrows(() => anthropic.messages.create({ model: 'gpt-9', max_tokens: 8, messages: question }),
      Anthropic.NotFoundError);
  },

  async modelsList() {
    const ids = [];
    for await (const m of openai.models.list()) ids.push(m.id);
    assert.deepEqual(ids, [chatModel, messagesModel]);
  },

  // Last: the blocks it creates would turn later calls away.
  async exhaustionIsRateLimitErrorWithRetryAfter() {
    await script(openaiFake, ['status=429;retry_after=2', 'status=429;retry_after=2']);
    await script(anthropicFake, ['status=429;retry_after=2', 'status=429;retry_after=2']);
    await expectThrows(() => openai.chat.completions.create({ model: chatModel, messages: question }),
      OpenAI.RateLimitError, (e) => {
        assert.equal(e.status, 429);
        const after = Number(e.headers.get('retry-after'));
        assert.ok(after >= 1 && after <= 2, `retry-after ${after}`);
        assert.equal(e.error.type, 'retry_exhausted');
      });
    await expectThrows(() => anthropic.messages.create({ model: messagesModel, max_tokens: 8, messages: question }),
      Anthropic.RateLimitError, (e) => {
        assert.equal(e.status, 429);
        assert.ok(Number(e.headers.get('retry-after')) >= 1);
      });
  },
};

const failures = [];
for (const [name, run] of Object.entries(cases)) {
  await reset();
  try {
    await run();
    console.log(`ok   ${name}`);
  } catch (e) {
    failures.push(name);
    console.log(`FAIL ${name}: ${e?.stack ?? e}`);
  }
}
if (failures.length > 0) {
  console.log(`${failures.length} of ${Object.keys(cases).length} cases failed: ${failures.join(', ')}`);
  process.exit(1);
}
console.log(`all ${Object.keys(cases).length} cases passed`);
