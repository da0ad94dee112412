// The render recipe done the way sharp's documentation shows it: one pipeline
// per output, cloned from one input, two images at a time.
const sharp = require('sharp');
const fs = require('fs');
const path = require('path');

const [source, out] = process.argv.slice(2);
const widths = [480, 960, 1600, 2400];
const files = fs.readdirSync(source).filter((f) => /\.jpe?g$/i.test(f)).sort();
fs.mkdirSync(out, { recursive: true });

async function renderOne(file) {
  const input = sharp(path.join(source, file)).rotate();
  const stem = path.parse(file).name;
  const jobs = [];
  for (const width of widths) {
    const resized = () => input.clone().resize({ width, withoutEnlargement: true });
    jobs.push(resized().jpeg({ quality: 82, progressive: true }).toFile(path.join(out, `${stem}-${width}.jpg`)));
    jobs.push(resized().webp({ quality: 80 }).toFile(path.join(out, `${stem}-${width}.webp`)));
  }
  await Promise.all(jobs);
}

async function main() {
  let next = 0;
  const worker = async () => {
    while (next < files.length) await renderOne(files[next++]);
  };
  await Promise.all([worker(), worker()]);
}
main().catch((e) => { console.error(e); process.exit(1); });
