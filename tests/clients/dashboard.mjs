// Opens logproc's dashboard in headless Chromium (playwright-core) and checks
// what it shows against the API and against the test's own counts: the
// totals, the window's errors, warnings and info, the top service, a change
// of window, a live update after new lines, a chosen service's components.
//
// argv[2]: {"url", "screenshot", "truth": {"lines", "hour": {errors, warnings,
// info}, "quarter": {...}, "top", "components_of_top"}, "more": {"body", "lines"}}.
import { chromium } from 'playwright-core';

const plan = JSON.parse(process.argv[2]);
const problems = [];
// Objects compared whatever the order of their keys.
const canonical = (value) =>
  JSON.stringify(value, (_, v) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort()) : v));
const expect = (what, seen, wanted) => {
  if (canonical(seen) !== canonical(wanted)) problems.push(`${what}: saw ${canonical(seen)}, wanted ${canonical(wanted)}`);
};
const api = async (path) => (await fetch(plan.url + path)).json();
const sum = (buckets, ...levels) => buckets.reduce((total, b) => total + levels.reduce((n, l) => n + (b.levels[l] || 0), 0), 0);

// As root in a container: no sandbox, and /dev/shm may be small.
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 960 } });
  page.on('pageerror', (error) => problems.push(`page error: ${error}`));
  page.on('console', (message) => message.type() === 'error' && problems.push(`console: ${message.text()}`));
  await page.goto(plan.url + '/');
  // What a number on the page says, without its separators.
  const shown = async (id) => Number((await page.getByTestId(id).textContent()).replace(/,/g, ''));
  const until = (id, value) =>
    page.waitForFunction(
      ([id, value]) => document.querySelector(`[data-testid="${id}"]`)?.textContent.replace(/,/g, '') === String(value),
      [id, value],
      { timeout: 20000 },
    ).catch(() => null);
  const windowNumbers = async () => ({
    errors: await shown('window-errors'),
    warnings: await shown('window-warnings'),
    info: await shown('window-info'),
  });

  // The totals: /stats, and the test's truth.
  const stats = await api('/stats');
  expect('/stats lines', stats.lines, plan.truth.lines);
  await until('total-lines', stats.lines);
  expect('total lines', await shown('total-lines'), stats.lines);
  expect('total errors', await shown('total-errors'), stats.levels.ERROR + stats.levels.FATAL);
  expect('total warnings', await shown('total-warnings'), stats.levels.WARN);
  expect('total invalid', await shown('total-invalid'), stats.invalid);

  // The last hour, by minute: /stats/timeseries, and the truth.
  const hour = await api('/stats/timeseries?level=ERROR,FATAL,WARN,INFO&from=-1h&step=1m');
  const fromApi = { errors: sum(hour.buckets, 'ERROR', 'FATAL'), warnings: sum(hour.buckets, 'WARN'), info: sum(hour.buckets, 'INFO') };
  expect('last hour from the API', fromApi, plan.truth.hour);
  await until('window-errors', fromApi.errors);
  expect('last hour on the page', await windowNumbers(), fromApi);
  expect('chart series', await page.locator('#chart polyline').count(), 3);
  const top = await page.locator('#top tr').first().getAttribute('data-service');
  expect('top service', top, plan.truth.top);

  // Another window.
  await page.getByTestId('window').selectOption('15m');
  await until('window-errors', plan.truth.quarter.errors);
  expect('last 15 minutes on the page', await windowNumbers(), plan.truth.quarter);

  // A chosen service: its components.
  await page.locator('#top tr').first().click();
  await page.waitForFunction(() => document.querySelector('#components-title').textContent.startsWith('Components of'), null, { timeout: 20000 }).catch(() => null);
  const components = await page.locator('#components tr td:first-child').allTextContents();
  expect('components of the top service', components.sort(), plan.truth.components_of_top);

  // Live: new lines show without reloading.
  await page.getByTestId('service').selectOption('');
  const response = await fetch(plan.url + '/ingest?parser=json', { method: 'POST', body: plan.more.body });
  expect('posting more lines', response.status, 200);
  await until('total-lines', plan.truth.lines + plan.more.lines);
  expect('total lines after more', await shown('total-lines'), plan.truth.lines + plan.more.lines);

  await page.screenshot({ path: plan.screenshot, fullPage: true });
} finally {
  await browser.close();
}
if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(1);
}
