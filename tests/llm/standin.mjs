// A stand-in for an OpenAI-compatible chat-completions server (the protocol of OpenAI, Azure
// OpenAI, Ollama and llama.cpp's llama-server), for the browser tests of the AI summary: no
// language model can run on the test machine. It checks the request's shape as those servers
// do (a model, a system and a user message, no tools), answers 400 otherwise, and writes an
// answer that cites the first event it was sent (`e:ID`), whole or streamed as server-sent
// events (`chat.completion.chunk`, then `data: [DONE]`) a word at a time.
//
// Environment: PORT (required), DELAY_MS between streamed chunks (default 40).
// Test-only: GET /test/requests answers how many completions were asked for, and how many streamed.
import { createServer } from 'node:http';

const port = Number(process.env.PORT);
if (!port) throw new Error('PORT is required');
const delay = Number(process.env.DELAY_MS ?? 40);
const seen = { completions: 0, streamed: 0 };

function refuse(res, status, message) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: { message, type: 'invalid_request_error', code: null } }));
}

function answerFor(user) {
  // AOC sends the events as JSON documents with their AOC id, and the total it counted.
  const ids = [...user.matchAll(/"id":\s*(\d+)/g)].map((m) => m[1]);
  const total = (user.match(/"total_matching_events":\s*(\d+)/) ?? [])[1];
  const cited = ids.length ? ` Start with e:${ids[0]}.` : '';
  return `Stand-in summary: the search holds ${total ?? 'some'} events, mostly routine activity.${cited} ` +
    'Check the failures and any new inbox rules first.';
}

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/test/requests') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(seen));
    return;
  }
  if (req.method !== 'POST' || !req.url.split('?')[0].endsWith('/chat/completions')) {
    refuse(res, 404, 'not found');
    return;
  }
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (c) => { body += c; });
  req.on('end', async () => {
    let request;
    try { request = JSON.parse(body); } catch { refuse(res, 400, 'the body is not JSON'); return; }
    const messages = Array.isArray(request.messages) ? request.messages : [];
    if (!request.model || messages.length !== 2 || messages[0].role !== 'system' || messages[1].role !== 'user'
      || typeof messages[1].content !== 'string' || request.tools || request.functions) {
      refuse(res, 400, 'expected a model, a system and a user message, and no tools');
      return;
    }
    seen.completions += 1;
    const text = answerFor(messages[1].content);
    const id = `chatcmpl-standin-${seen.completions}`;
    const created = Math.floor(Date.now() / 1000);
    if (!request.stream) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({
        id, object: 'chat.completion', created, model: request.model,
        choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
        usage: { prompt_tokens: Math.ceil(messages[1].content.length / 4), completion_tokens: text.split(' ').length },
      }));
      return;
    }
    seen.streamed += 1;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const send = (choice) => res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: request.model, choices: [choice] })}\n\n`);
    send({ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null });
    for (const word of text.split(/(?<= )/)) {
      await new Promise((r) => setTimeout(r, delay));
      if (res.destroyed) return;
      send({ index: 0, delta: { content: word }, finish_reason: null });
    }
    send({ index: 0, delta: {}, finish_reason: 'stop' });
    res.end('data: [DONE]\n\n');
  });
});
server.listen(port, '127.0.0.1');
