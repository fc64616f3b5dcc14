// tests/browser/portal.mjs — the self-invoicing portal in real Chromium
// (Debian's /usr/bin/chromium driven by playwright-core), suite 'browser'.
//
//   node portal.mjs ARTIFACT_DIR
//
// tests/portal/portal_env.py prepares the merchant and starts
// `facturo serve`; this script walks the shopper's paths: phone and
// desktop viewports, from the QR link and from typed data to downloading
// the XML (which must pass `facturo cfdi verify`) and the PDF; the error
// paths; the whole flow with JavaScript disabled; the proof of work solved
// by portal.js; one ticket confirmed from two tabs at once.  Screenshots
// of every step land in ARTIFACT_DIR.  Any failed check exits 1.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const CHROMIUM = '/usr/bin/chromium';
if (!existsSync(CHROMIUM) || !existsSync(path.join(here, 'node_modules', 'playwright-core'))) {
  console.log('SKIP: chromium or tests/browser/node_modules/playwright-core missing (npm ci in tests/browser)');
  process.exit(77);
}
const { chromium } = require('playwright-core');

const artifacts = process.argv[2] || path.join(process.env.FACTURO_BUILD || '.', 'browser-artifacts');
mkdirSync(artifacts, { recursive: true });
const work = mkdtempSync(path.join(tmpdir(), 'portal-browser-'));
const src = process.env.FACTURO_SRC || path.join(here, '..', '..');

let stepName = 'setup';
function step(s) { stepName = s; console.log('--', s); }
function check(cond, what) {
  if (!cond) throw new Error(`[${stepName}] ${what}`);
}

// ---- the merchant and the server -------------------------------------
const envProc = spawn('python3', [path.join(src, 'tests', 'portal', 'portal_env.py'), path.join(work, 'srv')],
  { stdio: ['pipe', 'pipe', 'inherit'] });
const info = await new Promise((resolve, reject) => {
  const rl = readline.createInterface({ input: envProc.stdout });
  rl.once('line', (l) => resolve(JSON.parse(l)));
  envProc.once('exit', (c) => reject(new Error('portal_env exited ' + c)));
});
const base = info.url;
const T = info.tickets;
const qrPath = (t) => new URL(t.self_invoice_url).pathname;

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };
const DESKTOP = { viewport: { width: 1280, height: 900 } };
let nAddr = 0;
const open = [];
// Each scenario runs in its own Chromium with a fresh --user-data-dir
// (playwright passes userDataDir as that flag) and its own client address
// (through the trusted-proxy header), so the look-up throttle counts it
// apart.
async function context(opts = {}) {
  nAddr += 1;
  const ctx = await chromium.launchPersistentContext(path.join(work, `profile-${nAddr}`), {
    executablePath: CHROMIUM, headless: true, args: FLAGS,
    acceptDownloads: true, baseURL: base, locale: 'es-MX',
    extraHTTPHeaders: { 'X-Forwarded-For': `203.0.113.${nAddr}` },
    ...opts,
  });
  open.push(ctx);
  // A persistent context opens with one blank page; scenarios open their own.
  for (const p of ctx.pages()) await p.close();
  return ctx;
}
let shot = 0;
async function snap(page, name) {
  shot += 1;
  await page.screenshot({ path: path.join(artifacts, `${String(shot).padStart(2, '0')}-${name}.png`), fullPage: true });
}

const RECEIVER = { rfc: 'URE180429TM6', name: 'UNIVERSIDAD ROBOTICA ESPANOLA', zip: '86991', regime: '601', use: 'G03', email: 'compras@ure.example.com' };

async function fillFiscal(page, r = RECEIVER) {
  await page.fill('#rfc', r.rfc);
  await page.fill('#name', r.name);
  await page.fill('#zip', r.zip);
  await page.selectOption('#regime', r.regime);
  await page.selectOption('#use', r.use);
  await page.fill('#email', r.email);
}

async function submitAndWait(page, selector) {
  await Promise.all([page.waitForNavigation(), page.click(selector)]);
}

// Downloads the XML and PDF from the success page; verifies the XML.
async function downloads(page, tag) {
  const uuid = (await page.textContent('#uuid')).trim();
  check(/^[0-9A-F-]{36}$/.test(uuid), 'UUID shown: ' + uuid);
  for (const kind of ['xml', 'pdf']) {
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click(`#dl-${kind}`)]);
    const file = path.join(artifacts, `${tag}.${kind}`);
    await dl.saveAs(file);
    const bytes = readFileSync(file);
    if (kind === 'xml') {
      check(bytes.includes(uuid), 'XML holds the UUID');
      const v = spawnSync(info.bin, ['cfdi', 'verify', file], { encoding: 'utf8' });
      check(v.status === 0, 'facturo cfdi verify: ' + v.stdout + v.stderr);
    } else {
      check(bytes.subarray(0, 5).toString() === '%PDF-', 'PDF downloaded');
    }
  }
  return uuid;
}

const t0 = Date.now();
let failed = false;
try {
  step('phone: from the QR link to the XML and PDF');
  {
    const ctx = await context(PHONE);
    const page = await ctx.newPage();
    const errors = [];
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(qrPath(T.qr_phone));
    check((await page.textContent('.mname')).includes('Cafetería Kemper'), 'branding name');
    check(await page.isVisible('img.logo'), 'logo shown');
    check((await page.textContent('td.folio')).trim() === 'B-QR_PHONE', 'ticket already found');
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    check(width <= 390, 'no horizontal scrolling on a phone: ' + width);
    await snap(page, 'phone-data');
    await fillFiscal(page);
    await submitAndWait(page, 'form.fiscal button[type=submit]');
    check(await page.isVisible('#preview'), 'preview');
    check((await page.textContent('#grand-total')).includes('$141.00'), 'total in preview');
    await snap(page, 'phone-preview');
    await submitAndWait(page, '#confirm');
    check((await page.textContent('#done-title')).includes('Listo'), 'success page');
    await snap(page, 'phone-done');
    await downloads(page, 'phone');
    check(errors.length === 0, 'no console errors (CSP included): ' + errors.join('; '));
    await ctx.close();
  }

  step('desktop: typed store, folio and total; JS narrows the dropdowns; two tickets');
  {
    const ctx = await context(DESKTOP);
    const page = await ctx.newPage();
    await page.goto(`/${info.slug}/`);
    await snap(page, 'desktop-index');
    await page.selectOption('select[name=branch]', 'S01');
    await page.fill('input[name=folio]', 'B-TYPED');
    await page.fill('input[name=total]', info.total);
    await submitAndWait(page, 'form.lookup button[type=submit]');
    check((await page.textContent('td.folio')).trim() === 'B-TYPED', 'found by typed data');
    // Add a second ticket to the same invoice.
    await page.click('details.add summary');
    await page.selectOption('details.add select[name=branch]', 'S01');
    await page.fill('details.add input[name=folio]', 'B-TYPED2');
    await page.fill('details.add input[name=total]', '141');
    await submitAndWait(page, 'details.add button[type=submit]');
    check((await page.$$('td.folio')).length === 2, 'two tickets listed');
    // The script narrows: a persona física with régimen 605 cannot pick G03.
    await page.fill('#rfc', 'XOJI740919U48');
    await page.selectOption('#regime', '605');
    check(await page.$eval('#use option[value=G03]', (o) => o.disabled), 'G03 hidden for 605');
    check(!(await page.$eval('#use option[value=CN01]', (o) => o.disabled)), 'CN01 offered for 605');
    check(await page.$eval('#regime option[value="601"]', (o) => o.disabled), 'moral regime hidden for a física');
    await page.fill('#rfc', '');
    await fillFiscal(page, { ...RECEIVER, email: 'a@example.com' });
    await snap(page, 'desktop-data');
    await submitAndWait(page, 'form.fiscal button[type=submit]');
    check((await page.textContent('#grand-total')).includes('$282.00'), 'two tickets in one invoice');
    await snap(page, 'desktop-preview');
    await submitAndWait(page, '#confirm');
    await snap(page, 'desktop-done');
    await downloads(page, 'desktop');
    await ctx.close();
  }

  step('without JavaScript: the whole flow, and a uso refused on submit');
  {
    const ctx = await context({ ...PHONE, javaScriptEnabled: false });
    const page = await ctx.newPage();
    await page.goto(`/${info.slug}/`);
    await page.selectOption('select[name=branch]', 'S01');
    await page.fill('input[name=folio]', 'B-NOJS');
    await page.fill('input[name=total]', info.total);
    await submitAndWait(page, 'form.lookup button[type=submit]');
    check((await page.textContent('td.folio')).trim() === 'B-NOJS', 'found without JS');
    check(!(await page.$eval('#use option[value=G03]', (o) => o.disabled)), 'every uso listed without JS');
    await fillFiscal(page, { rfc: 'XOJI740919U48', name: 'INGRID XODAR JIMENEZ', zip: '88965', regime: '605', use: 'G03', email: 'i@example.com' });
    await submitAndWait(page, 'form.fiscal button[type=submit]');
    const err = await page.textContent('#use-err');
    check(err.includes('605'), 'clear message next to the uso: ' + err);
    await snap(page, 'nojs-uso-error');
    await page.selectOption('#use', 'CN01');
    await submitAndWait(page, 'form.fiscal button[type=submit]');
    check(await page.isVisible('#preview'), 'preview without JS');
    await submitAndWait(page, '#confirm');
    await snap(page, 'nojs-done');
    await downloads(page, 'nojs');
    await ctx.close();
  }

  step('error paths: not found, expired, cancelled, already invoiced + resend');
  {
    const ctx = await context(DESKTOP);
    const page = await ctx.newPage();
    await page.goto(`/${info.slug}/`);
    await page.selectOption('select[name=branch]', 'S01');
    await page.fill('input[name=folio]', 'B-ERRORS_OK');
    await page.fill('input[name=total]', '141.50');
    await submitAndWait(page, 'form.lookup button[type=submit]');
    const nf = await page.textContent('#lookup-error');
    check(nf.includes('No encontramos'), 'not found: ' + nf);
    await snap(page, 'error-not-found');
    await page.goto(qrPath(T.expired));
    check((await page.textContent('#notice-title')).includes('plazo'), 'expired title');
    check((await page.textContent('.deadline')).match(/\d{4}-\d\d-\d\d 23:59/), 'until when');
    check((await page.content()).includes('factura global'), 'went into the global invoice');
    await snap(page, 'error-expired');
    await page.goto(qrPath(T.cancelled));
    check((await page.textContent('#notice-title')).includes('cancelado'), 'cancelled');
    await snap(page, 'error-cancelled');
    await page.goto(qrPath(T.qr_phone)); // invoiced in the phone step
    check((await page.textContent('#notice-title')).includes('ya fue facturado'), 'already invoiced');
    const body = await page.content();
    check(!body.includes('URE180429TM6') && !body.includes('compras@'), 'nothing of it shown');
    await snap(page, 'error-invoiced');
    await submitAndWait(page, 'button:has-text("Reenviar")');
    check((await page.content()).includes('reenviamos'), 'resent');
    await snap(page, 'error-resent');
    await page.goto(`/${info.slug}/?lang=en`);
    check((await page.textContent('h2')).includes('Find your ticket'), 'English by choice');
    await snap(page, 'english');
    await ctx.close();
  }

  step('proof of work solved in the browser after repeated failures');
  {
    const ctx = await context(DESKTOP);
    const page = await ctx.newPage();
    await page.goto(`/${info.slug}/`);
    for (let i = 0; i < 3; i++) {
      await page.selectOption('select[name=branch]', 'S02');
      await page.fill('input[name=folio]', `NOPE-${i}`);
      await page.fill('input[name=total]', '1.00');
      await submitAndWait(page, 'form.lookup button[type=submit]');
    }
    check(await page.$('input[name=pow_challenge]'), 'challenge after 3 failures');
    await page.selectOption('select[name=branch]', 'S01');
    await page.fill('input[name=folio]', 'B-ERRORS_OK');
    await page.fill('input[name=total]', info.total);
    const t1 = Date.now();
    await submitAndWait(page, 'form.lookup button[type=submit]');
    check((await page.textContent('td.folio')).trim() === 'B-ERRORS_OK',
      'found after the script solved the proof of work');
    console.log(`   proof of work (14 bits) solved and sent in ${Date.now() - t1} ms`);
    await snap(page, 'pow-found');
    await ctx.close();
  }

  step('one ticket confirmed from two tabs at once: one invoice');
  {
    const ctx = await context(DESKTOP);
    const a = await ctx.newPage();
    const b = await ctx.newPage();
    for (const p of [a, b]) {
      await p.goto(qrPath(T.tabs));
      await fillFiscal(p);
      await submitAndWait(p, 'form.fiscal button[type=submit]');
    }
    await Promise.all([submitAndWait(a, '#confirm'), submitAndWait(b, '#confirm')]);
    const ua = (await a.textContent('#uuid')).trim();
    const ub = (await b.textContent('#uuid')).trim();
    check(ua === ub, `both tabs show one invoice: ${ua} ${ub}`);
    await snap(a, 'tabs-a');
    await snap(b, 'tabs-b');
    const r = await fetch(`${base}/v1/invoices?limit=200`, { headers: { Authorization: `Bearer ${info.key}` } });
    const js = await r.json();
    check(js.data.filter((i) => i.uuid === ua).length === 1, 'one invoice stored');
    const tr = await fetch(`${base}/v1/tickets/${T.tabs.id}`, { headers: { Authorization: `Bearer ${info.key}` } });
    check((await tr.json()).status === 'invoiced', 'ticket invoiced');
    await ctx.close();
  }
  console.log(`browser: all checks passed in ${((Date.now() - t0) / 1000).toFixed(1)} s; screenshots in ${artifacts}`);
} catch (e) {
  failed = true;
  console.log('FAIL', e.message);
} finally {
  for (const c of open) await c.close().catch(() => {});
  envProc.stdin.end();
  await new Promise((r) => envProc.once('exit', r));
  rmSync(work, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
