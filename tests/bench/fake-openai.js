// A fake OpenAI Chat Completions server for the remote tagging benchmark:
// answers every request after DELAY_MS with a valid answer of the documented
// shape, and counts how many requests were in flight at once.
//   node fake-openai.js PORT_FILE DELAY_MS
const http = require('http');
const fs = require('fs');
const [portFile, delay] = [process.argv[2], Number(process.argv[3] || 300)];
let inside = 0, most = 0, count = 0;
const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    inside++; count++; most = Math.max(most, inside);
    setTimeout(() => {
      inside--;
      const answer = {scene: 'portrait', confidence: 0.9, alt_text: 'A portrait', keywords: ['portrait'],
                      people: 1, eyes_closed: false};
      res.writeHead(200, {'Content-Type': 'application/json'});
      res.end(JSON.stringify({choices: [{index: 0, message: {role: 'assistant', content: JSON.stringify(answer),
        refusal: null}, finish_reason: 'stop'}], usage: {prompt_tokens: 300, completion_tokens: 60}}));
      fs.writeFileSync(portFile + '.stats', JSON.stringify({requests: count, most_in_flight: most}));
    }, delay);
  });
});
server.listen(0, '127.0.0.1', () => fs.writeFileSync(portFile, String(server.address().port)));
