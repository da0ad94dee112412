// The fastest sharp approach we know: decode once to the widest size as raw
// pixels, then make every smaller size from those pixels; two images at a time.
const sharp = require('sharp');
const fs = require('fs');
const path = require('path');

const [source, out] = process.argv.slice(2);
const widths = [2400, 1600, 960, 480];
const files = fs.readdirSync(source).filter((f) => /\.jpe?g$/i.test(f)).sort();
fs.mkdirSync(out, { recursive: true });

async function renderOne(file) {
  const stem = path.parse(file).name;
  const { data, info } = await sharp(path.join(source, file))
    .rotate()
    .resize({ width: widths[0], withoutEnlargement: true })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const raw = { raw: { width: info.width, height: info.height, channels: info.channels } };
  const jobs = [];
  for (const width of widths) {
    const resized = () => sharp(data, raw).resize({ width, withoutEnlargement: true });
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
