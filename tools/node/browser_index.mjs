// The app's index page in a real browser (Debian's chromium, driven by playwright-core):
// sign in through the local XSUAA's login page, load the buckets, open the catalog's service
// document and $metadata, and print what a user saw as ONE JSON line on stdout.
//
// usage: node browser_index.mjs <app-url> <username> <password-env-var-name>
//
// The password is read from the named environment variable, never from argv. Nothing printed
// holds the password, a cookie, or a URL's query (which carries the authorization code).
// Any failure exits 1 with `browser_index: <step>: <reason>` on stderr.
//
// CHROMIUM_PATH overrides the browser (default /usr/bin/chromium, installed by
// `cargo xtask install`); playwright-core never downloads one.

import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';

const TIMEOUT_MS = 15_000;

function fail(step, reason) {
  process.stderr.write(`browser_index: ${step}: ${reason}\n`);
  process.exit(1);
}

const [appArg, username, passwordVar] = process.argv.slice(2);
if (!appArg || !username || !passwordVar) {
  fail('usage', 'node browser_index.mjs <app-url> <username> <password-env-var-name>');
}
const password = process.env[passwordVar];
if (!password) {
  fail('usage', `the environment variable ${passwordVar} (the password) is not set`);
}
let app;
try {
  app = new URL(appArg);
} catch {
  fail('usage', `not a URL: ${appArg}`);
}
const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
if (!existsSync(executablePath)) {
  fail('launch', `${executablePath} is missing: run \`cargo xtask install\` (it installs Debian's chromium)`);
}

/** A URL without its query and fragment (codes, state), for messages. */
function bare(url) {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(not a URL)';
  }
}

const browser = await chromium
  .launch({
    executablePath,
    headless: true,
    timeout: 30_000,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
  .catch((e) => fail('launch', `cannot start ${executablePath}: ${e.message.split('\n')[0]}`));

let current = 'set up the browser';
let page;

/** Runs one step; a failure names the step, the page it was on and what that page said. */
async function step(name, fn) {
  current = name;
  try {
    return await fn();
  } catch (e) {
    let where = '';
    if (page) {
      const text = await page
        .evaluate(() => (document.body ? document.body.innerText : ''))
        .catch(() => '');
      where = ` (on ${bare(page.url())}: ${JSON.stringify(text.replace(/\s+/g, ' ').slice(0, 300))})`;
    }
    throw new Error(`${e.message.split('\n')[0]}${where}`);
  }
}

/** Clicks `selector` and returns the response of the main-frame navigation it causes. */
async function clickAndNavigate(selector) {
  const [response] = await Promise.all([
    page.waitForNavigation({ waitUntil: 'load', timeout: TIMEOUT_MS }),
    page.click(selector),
  ]);
  if (!response) throw new Error(`clicking ${selector} loaded nothing`);
  return response;
}

let result;
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT_MS);
  page.setDefaultNavigationTimeout(TIMEOUT_MS);
  const consoleErrors = [];
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const at = msg.location()?.url;
    // The browser's own favicon probe is not the page's doing (the app has no favicon).
    if (at && new URL(at).pathname === '/favicon.ico') return;
    consoleErrors.push(at ? `${msg.text()} (${bare(at)})` : msg.text());
  });
  page.on('pageerror', (err) => consoleErrors.push(`uncaught: ${err.message}`));

  await step('open the app', async () => {
    const response = await page.goto(new URL('/', app).href);
    const chain = [];
    for (let r = response?.request(); r; r = r.redirectedFrom()) chain.unshift(new URL(r.url()));
    if (!chain.some((u) => u.origin === app.origin && u.pathname === '/login')) {
      throw new Error(`the app did not send the browser to /login: ${chain.map((u) => bare(u.href)).join(' -> ')}`);
    }
    if (new URL(page.url()).origin === app.origin) {
      throw new Error(`expected the XSUAA login page, stayed on ${bare(page.url())}`);
    }
    await page.waitForSelector('form input[name="username"]');
  });

  await step('sign in', async () => {
    await page.fill('input[name="username"]', username);
    await page.fill('input[name="password"]', password);
    await page.click('form button[type="submit"]');
    // Back on the app's index page, or the login page again with its error.
    const back = page.waitForURL((u) => u.origin === app.origin && u.pathname === '/');
    const refused = page
      .waitForSelector('[role="alert"]')
      .then(async (alert) => Promise.reject(new Error(`XSUAA refused: ${(await alert.textContent()).trim()}`)));
    back.catch(() => {});
    refused.catch(() => {});
    await Promise.race([back, refused]);
    await page.waitForLoadState('load');
  });

  const index = await step('read the index page', () =>
    page.evaluate(() => ({
      title: document.title,
      buttons: [...document.querySelectorAll('button')].map((b) => b.textContent.trim()),
    })),
  );

  const buckets = await step('load the buckets', async () => {
    if (!(await page.$('#load-buckets'))) throw new Error('the page has no #load-buckets button');
    await page.click('#load-buckets');
    await page.waitForSelector('#folder-container .folder');
    return page.$$eval('#folder-container .folder', (folders) =>
      folders.map((f) => ({
        name: f.querySelector('.bucket-name')?.textContent.trim() ?? '',
        created: f.querySelector('.bucket-created')?.textContent.trim() ?? '',
      })),
    );
  });

  const catalogStatus = await step('open the catalog', async () => {
    const response = await clickAndNavigate('#catalog');
    const text = await response.text();
    try {
      JSON.parse(text);
    } catch {
      throw new Error(`${bare(response.url())} answered ${response.status()} without JSON`);
    }
    return response.status();
  });

  const metadataHasEdmx = await step('open the metadata', async () => {
    await page.goBack({ waitUntil: 'load' });
    await page.waitForSelector('#metadata');
    const response = await clickAndNavigate('#metadata');
    return (await response.text()).includes('edmx:Edmx');
  });

  result = {
    title: index.title,
    buttons: index.buttons,
    buckets,
    consoleErrors,
    catalogStatus,
    metadataHasEdmx,
  };
} catch (e) {
  await Promise.race([browser.close(), new Promise((r) => setTimeout(r, 5_000))]).catch(() => {});
  fail(current, e.message);
}
await Promise.race([browser.close(), new Promise((r) => setTimeout(r, 5_000))]).catch(() => {});
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
