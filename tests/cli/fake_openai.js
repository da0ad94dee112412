// A fake Chat Completions server on 127.0.0.1 for the CLI scenarios:
//   node fake_openai.js ANSWERS.js [ARG...]
// writes its port to ./port and answers each request with what the function
// that ANSWERS.js exports returns for it, (n, request, body) => ({content,
// headers}): `content` is the model's answer (JSON), sent in OpenAI's
// envelope with 1000 prompt and 100 completion tokens; ARGs are the module's
// (process.argv[3]...).
const http = require('http');
const fs = require('fs');
const path = require('path');
const answer = require(path.resolve(process.argv[2]));
let count = 0;
const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    const n = count++;
    const {content, headers = {}} = answer(n, req, body);
    res.writeHead(200, Object.assign({'Content-Type': 'application/json'}, headers));
    res.end(JSON.stringify({id: 'chatcmpl-' + n, object: 'chat.completion',
      choices: [{index: 0, message: {role: 'assistant', content: JSON.stringify(content), refusal: null},
                 finish_reason: 'stop'}],
      usage: {prompt_tokens: 1000, completion_tokens: 100, total_tokens: 1100}}));
  });
});
server.listen(0, '127.0.0.1', () => fs.writeFileSync('port', String(server.address().port)));
