// The catalog (`/catalog`, OData V4) read by UI5's own OData V4 model (OpenUI5 from npm) in a
// real browser (Debian's chromium, driven by playwright-core): sign in through the local
// XSUAA's login page as browser_index.mjs does, then open a test page ON THE APP'S ORIGIN that
// the browser serves itself (playwright routes `/__ui5test/**`; the app is not changed), so the
// session cookie goes with UI5's real requests to `/catalog/…`. Prints what UI5 read as ONE JSON
// line on stdout:
//
//   {ui5Version (of the core that booted), ui5PackageVersion, synthesized: [...],
//    metadata: {entityKind, entityType, key, properties, createdType, createdPrecision,
//               function, functionReturnType},
//    buckets: [...], count, filtered: [...], single: {...}, functionResult: [...],
//    missing: {status, message, code}, formatted, catalogRequests: ["GET /catalog/…", …],
//    consoleErrors: [...], failedRequests: [...], expectedErrors: [...]}
//
// The steps: (a) the meta model reads `$metadata`; (b) a list binding on `Buckets` sorted by
// name with `$count`; (c) one filtered with `startswith(name,'bridge')`; (d) a context binding
// on `Buckets('bridge-documents')`; (e) an operation binding invoking `getBuckets()`; (f) a
// context binding on `Buckets('no-such')`, whose read must fail; (g) the `created` value of (d)
// formatted by `sap.ui.model.odata.type.DateTimeOffset` (which throws on a malformed value).
// The model uses the `$direct` group: the app answers `$batch` with 501.
//
// `failedRequests` holds every answer >= 400 (and every request that failed outright) except
// the deliberate 404 of `Buckets('no-such')`; `consoleErrors` every console error, uncaught
// error and UI5 log entry of level ERROR or worse, except those about that deliberate 404,
// which go to `expectedErrors`.
//
// usage: node ui5_catalog.mjs <app-url> <username> <password-env-var-name>
//
// The password is read from the named environment variable, never from argv. Nothing printed
// holds the password, a cookie, or a URL's query (which carries the authorization code); only
// the catalog's request URLs keep theirs (OData query options). Any failure exits 1 with
// `ui5_catalog: <step>: <reason>` on stderr.
//
// CHROMIUM_PATH overrides the browser (default /usr/bin/chromium, installed by
// `cargo xtask install`); playwright-core never downloads one. OpenUI5 comes from the pinned
// npm package `@openui5/sap.ui.core` (source layout: `src/` is UI5's `resources/`). The
// arguments, the launch, the steps and the sign-in are lib/browser.mjs's, shared with
// browser_index.mjs.

import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Steps, bare, fail, finish, launch, openPage, parseArgs, signIn } from './lib/browser.mjs';

const SCRIPT = 'ui5_catalog';

/** Each step's limit (UI5's source layout loads a few hundred module files). */
const TIMEOUT_MS = 30_000;
/** The path prefix the browser serves the test page and UI5 under, on the app's origin. */
const TEST_ROOT = '/__ui5test/';
/** The key that does not exist: its 404 is expected, and its errors are not failures. */
const MISSING_KEY = 'no-such';

const { app, username, password, executablePath } = parseArgs(SCRIPT);

// OpenUI5: the package's `src/` (source layout) or `dist/resources/` (built layout).
let ui5Package;
try {
  ui5Package = createRequire(import.meta.url).resolve('@openui5/sap.ui.core/package.json');
} catch {
  fail(SCRIPT, 'openui5', '@openui5/sap.ui.core is not installed: run `cargo xtask install` (it installs the pinned npm packages of tools/node)');
}
const ui5Dir = path.dirname(ui5Package);
const ui5Version = JSON.parse(readFileSync(ui5Package, 'utf8')).version;
const resourcesDir = [path.join(ui5Dir, 'dist', 'resources'), path.join(ui5Dir, 'src')].find((d) =>
  existsSync(path.join(d, 'sap-ui-core.js')),
);
if (!resourcesDir || !existsSync(path.join(resourcesDir, 'sap', 'ui', 'model', 'odata', 'v4', 'ODataModel.js'))) {
  fail(SCRIPT, 'openui5', `${ui5Dir} holds no sap-ui-core.js and sap/ui/model/odata/v4/ODataModel.js under src/ or dist/resources/`);
}

const CONTENT_TYPES = {
  '.js': 'application/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  // UI5's message bundles are ISO-8859-1 in the source layout (ui5.yaml says so).
  '.properties': 'text/plain; charset=ISO-8859-1',
  '.css': 'text/css; charset=utf-8',
  '.xml': 'application/xml; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.woff2': 'font/woff2',
};

/** The test page: UI5 bootstrapped from the routed resources, nothing else. */
const INDEX_HTML = `<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>UI5 OData V4 model against /catalog</title>
<script id="sap-ui-bootstrap"
  src="${TEST_ROOT}resources/sap-ui-core.js"
  data-sap-ui-async="true"
  data-sap-ui-compat-version="edge"
  data-sap-ui-language="en"
  data-sap-ui-log-level="WARNING"></script>
</head>
<body><p id="status">UI5 test page</p></body>
</html>
`;

/** The first line of a log text (an expected error's stack trace says nothing new). */
function firstLine(text) {
  return text.split('\n')[0];
}

/** Whether `url` is the deliberately missing entity (its 404 is expected). */
function isMissingKey(url) {
  try {
    const u = new URL(url);
    return u.origin === app.origin && decodeURIComponent(u.pathname) === `/catalog/Buckets('${MISSING_KEY}')`;
  } catch {
    return false;
  }
}

/**
 * What the browser served that the package does not hold as a file. The npm package is UI5's
 * source layout; UI5's tooling (`ui5 serve`, `ui5 build`) adds two things to it, which the test
 * page stands in for:
 * - `sap-ui-version.json` (the distribution's version info, which UI5's theming loads on boot):
 *   generated from the package's version, as the tooling's version-info middleware does;
 * - a theme's `library.css` (the tooling compiles it from the package's LESS sources, and the
 *   default theme lives in another package): an empty stylesheet, since nothing is rendered.
 */
const synthesized = new Set();

const VERSION_INFO = JSON.stringify({
  name: 'ui5-catalog-test',
  version: ui5Version,
  libraries: [{ name: 'sap.ui.core', version: ui5Version }],
});

/** Answers the routed test page and UI5's resources from disk. */
async function serveTestFile(route) {
  const url = new URL(route.request().url());
  const rel = decodeURIComponent(url.pathname.slice(TEST_ROOT.length));
  if (rel === 'index.html') {
    return route.fulfill({ status: 200, contentType: CONTENT_TYPES['.html'], body: INDEX_HTML });
  }
  if (rel.startsWith('resources/')) {
    const resource = rel.slice('resources/'.length);
    const file = path.resolve(resourcesDir, resource);
    if (file.startsWith(resourcesDir + path.sep)) {
      const body = await readFile(file).catch(() => null);
      if (body) {
        const type = CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream';
        return route.fulfill({ status: 200, contentType: type, body });
      }
    }
    if (resource === 'sap-ui-version.json') {
      synthesized.add(resource);
      return route.fulfill({ status: 200, contentType: CONTENT_TYPES['.json'], body: VERSION_INFO });
    }
    if (/^sap\/ui\/core\/themes\/[a-z0-9_]+\/library(-RTL)?\.css$/.test(resource)) {
      synthesized.add(resource);
      return route.fulfill({ status: 200, contentType: CONTENT_TYPES['.css'], body: '' });
    }
  }
  return route.fulfill({ status: 404, contentType: 'text/plain', body: 'not found\n' });
}

const browser = await launch(SCRIPT, executablePath);

let context;
let page;
/** Runs one step under TIMEOUT_MS; a failure names the step and the page it was on. */
const steps = new Steps(() => page, TIMEOUT_MS);
const { step } = steps;

/** Runs `fn(arg)` in the test page, where `window.ui5test` holds UI5's modules and the model. */
function inPage(fn, arg) {
  return page.evaluate(fn, arg);
}

await finish(SCRIPT, browser, steps, async () => {
  ({ context, page } = await openPage(browser, TIMEOUT_MS));

  const consoleErrors = [];
  const expectedErrors = [];
  const failedRequests = [];
  const catalogRequests = [];
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const at = msg.location()?.url;
    // The browser's own favicon probe is not the page's doing.
    if (at && new URL(at).pathname === '/favicon.ico') return;
    const text = at ? `${msg.text()} (${bare(at)})` : msg.text();
    if ((at && isMissingKey(at)) || msg.text().includes(`'${MISSING_KEY}'`)) {
      expectedErrors.push(firstLine(text));
    } else {
      consoleErrors.push(text);
    }
  });
  page.on('pageerror', (err) => consoleErrors.push(`uncaught: ${err.message}`));
  page.on('request', (request) => {
    const u = new URL(request.url());
    if (u.origin === app.origin && u.pathname.startsWith('/catalog')) {
      catalogRequests.push(`${request.method()} ${decodeURIComponent(u.pathname)}${decodeURIComponent(u.search)}`);
    }
  });
  page.on('response', (response) => {
    if (response.status() < 400) return;
    const u = new URL(response.url());
    if (u.pathname === '/favicon.ico' || isMissingKey(response.url())) return;
    failedRequests.push(`${response.request().method()} ${bare(response.url())}: ${response.status()}`);
  });
  page.on('requestfailed', (request) => {
    failedRequests.push(`${request.method()} ${bare(request.url())}: ${request.failure()?.errorText ?? 'failed'}`);
  });

  await signIn(page, app, username, password, step);

  await step('open the UI5 test page', async () => {
    await context.route(`${app.origin}${TEST_ROOT}**`, serveTestFile);
    const response = await page.goto(new URL(`${TEST_ROOT}index.html`, app).href);
    if (!response || response.status() !== 200) {
      throw new Error(`the test page answered ${response?.status()}`);
    }
  });

  const bootedVersion = await step('boot UI5 and create the model', () =>
    inPage(
      () =>
        new Promise((resolve, reject) => {
          const started = Date.now();
          const wait = () => {
            if (window.sap?.ui?.require) {
              sap.ui.require(
                [
                  'sap/base/Log',
                  'sap/ui/core/Core',
                  'sap/ui/core/Lib',
                  'sap/ui/model/odata/v4/ODataModel',
                  'sap/ui/model/Sorter',
                  'sap/ui/model/Filter',
                  'sap/ui/model/FilterOperator',
                  'sap/ui/model/odata/type/DateTimeOffset',
                ],
                (Log, Core, Library, ODataModel, Sorter, Filter, FilterOperator, DateTimeOffset) => {
                  const logErrors = [];
                  Log.addLogListener({
                    onLogEntry(entry) {
                      if (entry.level <= Log.Level.ERROR) {
                        logErrors.push(
                          `UI5 log: ${entry.message}${entry.details ? ` (${entry.details})` : ''}${entry.component ? ` [${entry.component}]` : ''}`,
                        );
                      }
                    },
                  });
                  Core.ready()
                    .then(() => {
                      const model = new ODataModel({
                        serviceUrl: '/catalog/',
                        groupId: '$direct',
                        operationMode: 'Server',
                      });
                      window.ui5test = { Log, model, Sorter, Filter, FilterOperator, DateTimeOffset, logErrors };
                      // The version of the core that booted (its library.js says it).
                      resolve(Library.all()['sap.ui.core']?.version ?? null);
                    })
                    .catch(reject);
                },
                (e) => reject(new Error(`cannot load UI5 modules: ${e.message}`)),
              );
            } else if (Date.now() - started > 25_000) {
              reject(new Error('sap-ui-core.js did not define sap.ui.require'));
            } else {
              setTimeout(wait, 50);
            }
          };
          wait();
        }),
    ),
  );

  const metadata = await step('read the metadata through the meta model', () =>
    inPage(async () => {
      const meta = window.ui5test.model.getMetaModel();
      const entityType = await meta.requestObject('/Buckets/');
      const typeName = await meta.requestObject('/Buckets/$Type');
      const properties = {};
      for (const [name, value] of Object.entries(entityType)) {
        if (value && value.$kind === 'Property') properties[name] = value.$Type;
      }
      return {
        entityKind: entityType.$kind,
        entityType: typeName,
        key: await meta.requestObject(`/${typeName}/$Key`),
        properties,
        createdType: await meta.requestObject('/Buckets/created/$Type'),
        createdPrecision: (await meta.requestObject('/Buckets/created/$Precision')) ?? null,
        function: ((await meta.requestObject('/getBuckets')) ?? {}).$kind ?? null,
        functionReturnType: (await meta.requestObject('/getBuckets/$Function/0/$ReturnType/$Type')) ?? null,
      };
    }),
  );

  const list = await step('read Buckets through a list binding', () =>
    inPage(async () => {
      const { model, Sorter } = window.ui5test;
      const binding = model.bindList('/Buckets', null, [new Sorter('name')], [], { $count: true });
      const contexts = await binding.requestContexts(0, 100);
      const count = await binding.getHeaderContext().requestProperty('$count');
      return { buckets: contexts.map((c) => c.getObject()), count };
    }),
  );

  const filtered = await step('read Buckets through a filtered list binding', () =>
    inPage(async () => {
      const { model, Sorter, Filter, FilterOperator } = window.ui5test;
      const binding = model.bindList('/Buckets', null, [new Sorter('name')], [
        new Filter('name', FilterOperator.StartsWith, 'bridge'),
      ]);
      const contexts = await binding.requestContexts(0, 100);
      return contexts.map((c) => c.getObject());
    }),
  );

  const single = await step("read Buckets('bridge-documents') through a context binding", () =>
    inPage(async () => {
      const binding = window.ui5test.model.bindContext("/Buckets('bridge-documents')");
      return binding.getBoundContext().requestObject();
    }),
  );

  const functionResult = await step('call getBuckets() through an operation binding', () =>
    inPage(async () => {
      const binding = window.ui5test.model.bindContext('/getBuckets(...)');
      await binding.invoke();
      const value = await binding.getBoundContext().requestObject();
      return value && Array.isArray(value.value) ? value.value : value;
    }),
  );

  const missing = await step(`read Buckets('${MISSING_KEY}') (must be 404)`, () =>
    inPage(async (key) => {
      const binding = window.ui5test.model.bindContext(`/Buckets('${key}')`);
      try {
        const value = await binding.getBoundContext().requestObject();
        return { status: null, message: `no error: ${JSON.stringify(value)}` };
      } catch (e) {
        return { status: e.status ?? null, message: e.error?.message ?? e.message, code: e.error?.code ?? null };
      }
    }, MISSING_KEY),
  );

  const formatted = await step('format a created value as sap.ui.model.odata.type.DateTimeOffset', () =>
    inPage(
      (value) => {
        const { DateTimeOffset } = window.ui5test;
        return new DateTimeOffset(undefined, { V4: true, precision: 3 }).formatValue(value, 'string');
      },
      single?.created ?? null,
    ),
  );

  const logErrors = await inPage(() => window.ui5test.logErrors);
  for (const e of logErrors) {
    if (e.includes(`'${MISSING_KEY}'`)) expectedErrors.push(firstLine(e));
    else consoleErrors.push(e);
  }

  return {
    ui5Version: bootedVersion,
    ui5PackageVersion: ui5Version,
    synthesized: [...synthesized].sort(),
    metadata,
    buckets: list.buckets,
    count: list.count,
    filtered,
    single,
    functionResult,
    missing,
    formatted,
    catalogRequests,
    consoleErrors,
    failedRequests,
    expectedErrors,
  };
});
