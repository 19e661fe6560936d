// The app's index page in a real browser (Debian's chromium, driven by playwright-core):
// sign in through the local XSUAA's login page, load the buckets, list, upload, download and
// delete a document, open the catalog's service document and $metadata, and print what a user
// saw as ONE JSON line on stdout.
//
// usage: node browser_index.mjs <app-url> <username> <password-env-var-name>
//
// The password is read from the named environment variable, never from argv. Nothing printed
// holds the password, a cookie, or a URL's query (which carries the authorization code).
// Any failure exits 1 with `browser_index: <step>: <reason>` on stderr.
//
// CHROMIUM_PATH overrides the browser (default /usr/bin/chromium, installed by
// `cargo xtask install`); playwright-core never downloads one. The arguments, the launch, the
// steps and the sign-in are lib/browser.mjs's, shared with ui5_catalog.mjs.

import { Steps, bare, finish, launch, openPage, parseArgs, signIn } from './lib/browser.mjs';

const SCRIPT = 'browser_index';
const TIMEOUT_MS = 15_000;

const { app, username, password, executablePath } = parseArgs(SCRIPT);
const browser = await launch(SCRIPT, executablePath);

let page;
/** Runs one step; a failure names the step, the page it was on and what that page said. */
const steps = new Steps(() => page);
const { step } = steps;

/** Clicks `selector` and returns the response of the main-frame navigation it causes. */
async function clickAndNavigate(selector) {
  const [response] = await Promise.all([
    page.waitForNavigation({ waitUntil: 'load', timeout: TIMEOUT_MS }),
    page.click(selector),
  ]);
  if (!response) throw new Error(`clicking ${selector} loaded nothing`);
  return response;
}

await finish(SCRIPT, browser, steps, async () => {
  ({ page } = await openPage(browser, TIMEOUT_MS));
  const consoleErrors = [];
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const at = msg.location()?.url;
    // The browser's own favicon probe is not the page's doing (the app has no favicon).
    if (at && new URL(at).pathname === '/favicon.ico') return;
    consoleErrors.push(at ? `${msg.text()} (${bare(at)})` : msg.text());
  });
  page.on('pageerror', (err) => consoleErrors.push(`uncaught: ${err.message}`));

  await signIn(page, app, username, password, step);

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

  // The document list: the demo documents, an upload through the form (CSRF token fetched
  // by the page), a download through the link, a delete.
  const rowNames = () =>
    page.$$eval('#documents-rows tr', (rows) =>
      rows.map((r) => ({
        name: r.querySelector('td')?.textContent.trim() ?? '',
        status: r.querySelector('td.status')?.textContent.trim() ?? '',
      })),
    );
  const documentsBefore = await step('list the documents', async () => {
    await page.waitForSelector('#documents-rows tr');
    return rowNames();
  });
  const uploaded = await step('upload a document', async () => {
    await page.setInputFiles('#upload-file', {
      name: 'from the browser.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from('hello from the browser\n'),
    });
    await page.fill('#upload-number', 'BROWSER-0001');
    await page.click('#upload');
    await page.waitForFunction(() =>
      [...document.querySelectorAll('#documents-rows tr')].some((r) =>
        r.textContent.includes('from the browser.txt') && r.querySelector('a.download')),
    );
    return (await rowNames()).find((r) => r.name === 'from the browser.txt');
  });
  const downloaded = await step('download it', async () => {
    const row = page.locator('#documents-rows tr', { hasText: 'from the browser.txt' });
    const [download] = await Promise.all([
      page.waitForEvent('download', { timeout: TIMEOUT_MS }),
      row.locator('a.download').click(),
    ]);
    const stream = await download.createReadStream();
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    return { fileName: download.suggestedFilename(), text: Buffer.concat(chunks).toString('utf8') };
  });
  const documentsAfterDelete = await step('delete it', async () => {
    const row = page.locator('#documents-rows tr', { hasText: 'from the browser.txt' });
    await row.locator('button.delete').click();
    await page.waitForFunction(() =>
      ![...document.querySelectorAll('#documents-rows tr')].some((r) =>
        r.textContent.includes('from the browser.txt')),
    );
    return rowNames();
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

  return {
    title: index.title,
    buttons: index.buttons,
    buckets,
    consoleErrors,
    catalogStatus,
    metadataHasEdmx,
    documentsBefore,
    uploaded,
    downloaded,
    documentsAfterDelete,
  };
});
