// Opens a published gallery in headless Chromium, served from 127.0.0.1, and
// checks what a visitor would meet: every image loads (naturalWidth > 0, also
// the lazy ones once scrolled to), the console stays free of errors, and no
// request leaves the host. Takes a full-page screenshot for a person to look at.
//
// Usage: NODE_PATH=.../node_modules node gallery_check.js GALLERY_FOLDER|GALLERY_URL SCREENSHOT.png
// (a URL on 127.0.0.1, such as a bucket's website, is opened as it is served there).
// Needs playwright-core and Debian's /usr/bin/chromium. CommonJS, so that
// NODE_PATH finds playwright-core installed outside the source tree.

const { createServer } = require('node:http');
const { readFile } = require('node:fs/promises');
const { extname, join, normalize } = require('node:path');
const { chromium } = require('playwright-core');

async function main() {
const [folder, screenshot] = process.argv.slice(2);
const types = { '.html': 'text/html; charset=utf-8', '.css': 'text/css', '.js': 'text/javascript',
                '.json': 'application/json', '.jpg': 'image/jpeg', '.webp': 'image/webp', '.avif': 'image/avif',
                '.png': 'image/png' };
const served = /^http:\/\/127\.0\.0\.1[:/]/.test(folder);
const server = served ? null : createServer(async (request, response) => {
  const path = normalize(decodeURIComponent(new URL(request.url, 'http://x').pathname)).replace(/^\/+/, '');
  if (path.startsWith('..')) { response.writeHead(403).end(); return; }
  try {
    const body = await readFile(join(folder, path === '' ? 'index.html' : path));
    response.writeHead(200, { 'content-type': types[extname(path)] ?? 'application/octet-stream' }).end(body);
  } catch {
    response.writeHead(404).end();
  }
});
if (server) await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const origin = served ? new URL(folder).origin : `http://127.0.0.1:${server.address().port}`;
const base = served ? folder.replace(/\/+$/, '') : origin;

const problems = [];
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('console', (message) => { if (message.type() === 'error') problems.push(`console error: ${message.text()}`); });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  // Every request is seen here; only the gallery's own host is served.
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(origin + '/') || url.startsWith('data:')) return route.continue();
    problems.push(`request leaves the host: ${url}`);
    return route.abort();
  });
  page.on('response', (response) => {
    if (response.status() >= 400) problems.push(`HTTP ${response.status()}: ${response.url()}`);
  });
  const pages = ['index.html'];
  for (let i = 0; i < pages.length; ++i) {
    await page.goto(`${base}/${pages[i]}`, { waitUntil: 'load' });
    // Scene pages, when the gallery is split, are checked too.
    for (const href of await page.$$eval('a[href$=".html"]', (links) => links.map((a) => a.getAttribute('href'))))
      if (!href.includes('/') && !pages.includes(href)) pages.push(href);
    // Scroll to the end so that lazy images load, then wait for each.
    await page.evaluate(async () => {
      for (let y = 0; y < document.body.scrollHeight; y += 400) { window.scrollTo(0, y); await new Promise((r) => setTimeout(r, 30)); }
    });
    const images = await page.$$eval('img', (all) => all.map((img) => img.currentSrc || img.src));
    await page.waitForFunction(() => [...document.images].every((img) => img.complete), null, { timeout: 30000 });
    const broken = await page.$$eval('img', (all) => all.filter((img) => img.naturalWidth === 0).map((img) => img.currentSrc || img.src));
    for (const src of broken) problems.push(`${pages[i]}: image did not load: ${src}`);
    if (images.length === 0) problems.push(`${pages[i]}: no images`);
    console.log(`${pages[i]}: ${images.length} images, ${images.length - broken.length} loaded`);
    if (i === 0) await page.screenshot({ path: screenshot, fullPage: true });
  }
} finally {
  await browser.close();
  if (server) server.close();
}
for (const problem of problems) console.error(problem);
return problems.length === 0 ? 0 : 1;
}

main().then((code) => process.exit(code), (error) => { console.error(error); process.exit(1); });
