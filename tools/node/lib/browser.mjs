// What the browser tests (browser_index.mjs, ui5_catalog.mjs) share: their arguments, their
// failure line, Debian's chromium launched by playwright-core, named steps, and signing in
// through the local XSUAA's login page.
//
// Every script takes `<app-url> <username> <password-env-var-name>`: the password is read from
// the named environment variable, never from argv. Nothing printed here holds the password, a
// cookie, or a URL's query (which carries the authorization code): URLs go through `bare`.
// Failures exit 1 with `<script>: <step>: <reason>` on stderr.
//
// CHROMIUM_PATH overrides the browser (default /usr/bin/chromium, installed by
// `cargo xtask install`); playwright-core never downloads one.
//
// The tests run a script from `.tools/node` (beside node_modules), with this folder copied to
// `.tools/node/lib` (crates/bridge/tests/cli/util.rs, `node_json`).

import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';

/** Writes `<script>: <step>: <reason>` to stderr and exits 1. */
export function fail(script, step, reason) {
  process.stderr.write(`${script}: ${step}: ${reason}\n`);
  process.exit(1);
}

/**
 * The command line of `<script>.mjs <app-url> <username> <password-env-var-name>`, and the
 * browser to launch: `{app (a URL), username, password, executablePath}`. Fails on a missing
 * argument, an unset password variable, a malformed URL or a missing browser.
 */
export function parseArgs(script) {
  const [appArg, username, passwordVar] = process.argv.slice(2);
  if (!appArg || !username || !passwordVar) {
    fail(script, 'usage', `node ${script}.mjs <app-url> <username> <password-env-var-name>`);
  }
  const password = process.env[passwordVar];
  if (!password) {
    fail(script, 'usage', `the environment variable ${passwordVar} (the password) is not set`);
  }
  let app;
  try {
    app = new URL(appArg);
  } catch {
    fail(script, 'usage', `not a URL: ${appArg}`);
  }
  const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    fail(script, 'launch', `${executablePath} is missing: run \`cargo xtask install\` (it installs Debian's chromium)`);
  }
  return { app, username, password, executablePath };
}

/** A URL without its query and fragment (codes, state), for messages. */
export function bare(url) {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(not a URL)';
  }
}

/** Starts headless chromium at `executablePath`; fails the script if it does not start. */
export function launch(script, executablePath) {
  return chromium
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
    .catch((e) => fail(script, 'launch', `cannot start ${executablePath}: ${e.message.split('\n')[0]}`));
}

/** A new page (in a context that accepts the dev stack's certificates) timing out after `timeoutMs`. */
export async function openPage(browser, timeoutMs) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  page.setDefaultTimeout(timeoutMs);
  page.setDefaultNavigationTimeout(timeoutMs);
  return { context, page };
}

/**
 * Named steps: `step(name, fn)` runs one (under `limitMs`, if given); a failure names the page
 * it was on (`page()`, once there is one) and what that page said. `current` is the step
 * running or last run, which a failure is reported under.
 */
export class Steps {
  current = 'set up the browser';
  #page;
  #limitMs;

  constructor(page, limitMs = undefined) {
    this.#page = page;
    this.#limitMs = limitMs;
    this.step = this.step.bind(this);
  }

  async step(name, fn) {
    this.current = name;
    const limitMs = this.#limitMs;
    let timer;
    const timeout =
      limitMs === undefined
        ? []
        : [
            new Promise((_, reject) => {
              timer = setTimeout(() => reject(new Error(`no result within ${limitMs / 1000} s`)), limitMs);
            }),
          ];
    try {
      return await Promise.race([fn(), ...timeout]);
    } catch (e) {
      let where = '';
      const page = this.#page();
      if (page) {
        const text = await page
          .evaluate(() => (document.body ? document.body.innerText : ''))
          .catch(() => '');
        where = ` (on ${bare(page.url())}: ${JSON.stringify(text.replace(/\s+/g, ' ').slice(0, 300))})`;
      }
      throw new Error(`${e.message.split('\n')[0]}${where}`);
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Two steps: "open the app" (the app sends the browser through its /login to the XSUAA login
 * page) and "sign in" (as `username`, back on the app's index page, or the login page's
 * refusal as the failure).
 */
export async function signIn(page, app, username, password, step) {
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
}

/**
 * Runs `body` (the steps after the launch) and prints its result as ONE JSON line, exiting 0;
 * on a failure exits 1 under the step it happened in. The browser is closed either way (giving
 * up on it after 5 s).
 */
export async function finish(script, browser, steps, body) {
  const close = () =>
    Promise.race([browser.close(), new Promise((r) => setTimeout(r, 5_000))]).catch(() => {});
  let result;
  try {
    result = await body();
  } catch (e) {
    await close();
    fail(script, steps.current, e.message);
  }
  await close();
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}
