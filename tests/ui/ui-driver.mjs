// ui-driver.mjs: drives the web UI in Debian's Chromium with playwright-core.
//
// Run by tests/ui/test_ui.py, which starts the mock upstream and the gateway
// behind a real server and passes (environment):
//   KIRO_NODE_MODULES  node_modules holding playwright-core
//   KIRO_UI_URL        the UI, e.g. http://127.0.0.1:PORT/kiro-admin/
//   KIRO_API_PREFIX    the gateway's mount as typed in the login form
//   KIRO_ADMIN_KEY     adminApiKey;  KIRO_CLIENT_KEY  apiKey
//   KIRO_MOCK_URL      the mock's base URL (its /_mock/ control API)
//   KIRO_IMPORT_FILE   a kiro.rs credentials.json to import through the page
//   KIRO_SECRETS       a JSON array of strings the page must never hold
//   KIRO_SCREENSHOT    where to save a screenshot of the accounts page
// Each step asserts what it sees against the admin API, read directly with
// the admin key; the first failure ends the run with a non-zero exit and
// the step's name.  The last stdout line is a JSON summary for the Python
// side.  Only loopback addresses may be fetched: anything else is aborted
// and fails the run, as does any error in the page's console.

import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

function env(name) {
	const v = process.env[name];
	if (v === undefined)
		throw new Error(`${name} is not set`);
	return v;
}

const uiURL = env("KIRO_UI_URL");
const prefix = env("KIRO_API_PREFIX");
const adminKey = env("KIRO_ADMIN_KEY");
const clientKey = env("KIRO_CLIENT_KEY");
const mockURL = env("KIRO_MOCK_URL");
const importFile = env("KIRO_IMPORT_FILE");
const secrets = JSON.parse(env("KIRO_SECRETS"));
const apiBase = new URL(uiURL).origin + prefix + "/api/admin/";

const { chromium } = await import(pathToFileURL(join(env("KIRO_NODE_MODULES"),
    "playwright-core", "index.mjs")).href);

async function admin(method, path, body) {
	const resp = await fetch(apiBase + path, { method,
	    headers: { "x-api-key": adminKey, "content-type": "application/json" },
	    body: body === undefined ? undefined : JSON.stringify(body) });
	assert.equal(resp.status, 200, `${method} ${path}: ${resp.status}`);
	return resp.json();
}

async function mock(path, body) {
	const resp = await fetch(mockURL + "/_mock/" + path, { method: "POST",
	    headers: { "content-type": "application/json" },
	    body: JSON.stringify(body) });
	assert.equal(resp.status, 200, `mock ${path}: ${resp.status}`);
	return resp.json();
}

const summary = {};
const problems = [];
let current = "launch";

async function step(name, fn) {
	current = name;
	summary[name] = (await fn()) ?? true;
}

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium",
    headless: true, args: ["--no-sandbox", "--disable-background-networking"] });
try {
	const context = await browser.newContext();
	const page = await context.newPage();
	page.setDefaultTimeout(30000);
	await page.route("**/*", (route) => {
		const host = new URL(route.request().url()).hostname;
		if (host === "127.0.0.1" || host === "localhost")
			return route.continue();
		problems.push("a request left loopback: " + route.request().url());
		return route.abort();
	});
	page.on("console", (msg) => {
		if (msg.type() === "error" && !/status of (40[134]|502)/.test(msg.text()))
			problems.push("console: " + msg.text());
	});
	page.on("pageerror", (err) => problems.push("page error: " + err.message));
	page.on("dialog", (d) => d.accept());

	const text = (sel) => page.locator(sel).innerText();
	const row = (id) => page.locator(`#acct-table tbody tr[data-id="${id}"]`);
	/* Waits until the element's text matches re. */
	async function waitText(sel, re) {
		await page.waitForFunction(([s, src]) => {
			const e = document.querySelector(s);
			return e !== null && new RegExp(src).test(e.textContent);
		}, [sel, re.source]);
		return text(sel);
	}
	async function login(key, base) {
		await page.fill("#login-key", key);
		await page.fill("#login-base", base);
		await page.click("#login-form button[type=submit]");
	}

	await step("prefix_guessed", async () => {
		await page.goto(uiURL);
		/* /kiro or the root, whichever answers /health. */
		await page.waitForFunction((p) => document.querySelector(
		    "#login-base").value === p && document.querySelector(
		    "#login-base").dataset.guessed === "1", prefix);
	});
	await step("wrong_key", async () => {
		await login("sk-not-the-admin-key-0000000000", prefix);
		return waitText("#login-error", /Wrong admin key/);
	});
	await step("client_key", async () => {
		await login(clientKey, prefix);
		return waitText("#login-error", /client API key/);
	});
	await step("wrong_prefix", async () => {
		await login(adminKey, prefix + "/nothing-here");
		return waitText("#login-error", /adminApiKey/);
	});
	await step("log_in", async () => {
		await login(adminKey, prefix);
		await page.waitForSelector("#page-accounts:not([hidden])");
		await page.waitForSelector("#acct-table tbody tr[data-id]");
		assert.equal(await page.isVisible("#page-login"), false);
	});
	await step("accounts_match_api", async () => {
		const api = await admin("GET", "credentials");
		const ids = await page.locator("#acct-table tbody tr[data-id]")
		    .evaluateAll((rows) => rows.map((r) => Number(r.dataset.id)));
		assert.deepEqual(ids, api.credentials.map((c) => c.id));
		for (const c of api.credentials) {
			const cells = await row(c.id).locator("td").allInnerTexts();
			assert.equal(cells[0], String(c.id));
			assert.ok(cells[1].includes(c.email), `email of ${c.id}`);
			assert.ok(cells[2].startsWith(c.state), `state of ${c.id}`);
			assert.equal(await row(c.id).locator("input.prio")
			    .inputValue(), String(c.priority));
			assert.equal(cells[4], c.authMethod);
		}
		return api.credentials.length;
	});
	const first = (await admin("GET", "credentials")).credentials[0].id;
	await step("disable", async () => {
		await row(first).locator("button.disable").click();
		await row(first).locator("button.enable").waitFor();
		const c = (await admin("GET", "credentials")).credentials
		    .find((x) => x.id === first);
		assert.equal(c.disabled, true);
		assert.ok((await row(first).locator("td").nth(2).innerText())
		    .startsWith("disabled"));
	});
	await step("enable", async () => {
		await row(first).locator("button.enable").click();
		await row(first).locator("button.disable").waitFor();
		const c = (await admin("GET", "credentials")).credentials
		    .find((x) => x.id === first);
		assert.equal(c.disabled, false);
	});
	await step("priority", async () => {
		await row(first).locator("input.prio").fill("7");
		await row(first).locator("button.set-prio").click();
		await waitText("#notice", /priority set to 7/);
		const c = (await admin("GET", "credentials")).credentials
		    .find((x) => x.id === first);
		assert.equal(c.priority, 7);
	});
	await step("import", async () => {
		const before = (await admin("GET", "credentials")).total;
		await page.setInputFiles("#acct-import", importFile);
		const msg = await waitText("#notice", /2 added/);
		const after = await admin("GET", "credentials");
		assert.equal(after.total, before + 2);
		await page.waitForFunction((n) => document.querySelectorAll(
		    "#acct-table tbody tr[data-id]").length === n, after.total);
		return msg;
	});
	await step("add_by_form", async () => {
		const cred = JSON.parse(env("KIRO_ADD_FORM"));
		const before = (await admin("GET", "credentials")).total;
		await page.click("#acct-show-add");
		await page.fill("#add-refresh", cred.refreshToken);
		await page.selectOption("#add-method", "social");
		await page.fill("#add-email", cred.email);
		await page.fill("#add-priority", "3");
		await page.click("#acct-add button[type=submit]");
		const msg = await waitText("#notice", /credential added, ID: \d+/);
		assert.equal(await page.isVisible("#acct-add"), false);
		const after = await admin("GET", "credentials");
		assert.equal(after.total, before + 1);
		const added = after.credentials.find((c) => c.email === cred.email);
		assert.equal(added.priority, 3);
		await row(added.id).waitFor();
		return msg;
	});
	await step("add_by_json", async () => {
		const text = env("KIRO_ADD_JSON");
		const before = (await admin("GET", "credentials")).total;
		await page.click("#acct-show-add");
		await page.fill("#add-json", text);
		await page.click("#acct-add button[type=submit]");
		const msg = await waitText("#notice", /1 added/);
		assert.equal((await admin("GET", "credentials")).total, before + 1);
		/* The same again: a duplicate, nothing added. */
		await page.click("#acct-show-add");
		await page.fill("#add-json", text);
		await page.click("#acct-add button[type=submit]");
		await waitText("#notice", /0 added, 1 already present/);
		assert.equal((await admin("GET", "credentials")).total, before + 1);
		return msg;
	});
	await step("history", async () => {
		await row(first).locator("button.history").click();
		const h = page.locator(`#acct-table tbody tr[data-id="${first}"] + tr.history`);
		await h.waitFor();
		assert.match(await h.innerText(), /disabled/);
	});
	await step("delete", async () => {
		const list = await admin("GET", "credentials");
		const victim = list.credentials[list.credentials.length - 1].id;
		await row(victim).locator("button.disable").click();
		await row(victim).locator("button.enable").waitFor();
		await row(victim).locator("button.delete").click();
		await row(victim).waitFor({ state: "detached" });
		const after = await admin("GET", "credentials");
		assert.equal(after.total, list.total - 1);
		assert.ok(!after.credentials.some((c) => c.id === victim));
		return victim;
	});
	await step("builder_id_login", async () => {
		const before = (await admin("GET", "credentials")).total;
		await page.click("#login-start");
		await page.waitForSelector("#builder:not([hidden])");
		const code = await waitText("#builder-code", /\S/);
		const link = await page.getAttribute("#builder-link", "href");
		assert.ok(link.includes("user_code=" + code), link);
		/* Approved once the page has polled a few times. */
		await waitText("#builder-status", /[2-9] checks/);
		await mock("device/approve", { userCode: code });
		const msg = await waitText("#notice", /added as account \d+/);
		const id = Number(/account (\d+)/.exec(msg)[1]);
		await row(id).waitFor();
		const after = await admin("GET", "credentials");
		assert.equal(after.total, before + 1);
		assert.equal(after.credentials.find((c) => c.id === id)
		    .authMethod, "idc");
		return id;
	});
	await step("balance", async () => {
		const id = (await admin("GET", "credentials")).credentials
		    .find((c) => c.email === "ui-two@example.com").id;
		await row(id).locator("button.balance").click();
		await page.waitForFunction((i) => /\d+ \/ \d+/.test(
		    document.querySelector(`#acct-table tr[data-id="${i}"] ` +
		    ".quota-cell").textContent), id);
		const u = await admin("GET", `credentials/${id}/balance`);
		const cell = await row(id).locator(".quota-cell").innerText();
		const [used, limit] = /([\d.]+) \/ ([\d.]+)/.exec(cell).slice(1)
		    .map(Number);
		assert.deepEqual([used, limit], [u.currentUsage, u.usageLimit], cell);
		return cell;
	});
	await step("usage_page", async () => {
		await page.click("nav .tab[data-page=usage]");
		await page.waitForSelector("#page-usage:not([hidden])");
		const total = (await admin("GET", "credentials")).total;
		await page.waitForFunction((n) => document.querySelectorAll(
		    "#usage-table tbody tr").length === n, total);
		await page.click("#usage-fetch");
		return waitText("#usage-progress", /^\d+ of \d+ fetched/);
	});
	await step("load_balancing", async () => {
		await page.click("nav .tab[data-page=settings]");
		await page.waitForSelector("#page-settings:not([hidden])");
		await page.waitForFunction(() =>
		    document.querySelector("#lim-global").value !== "");
		await page.selectOption("#lb-mode", "balanced");
		await page.click("#set-lb button[type=submit]");
		await waitText("#notice", /saved/);
		assert.equal((await admin("GET", "config/load-balancing")).mode,
		    "balanced");
	});
	await step("rate_limits", async () => {
		await page.fill("#lim-global", "600");
		await page.click("#set-limits button[type=submit]");
		await page.waitForFunction(() =>
		    document.querySelector("#lim-global").value === "600");
		assert.equal((await admin("GET", "config/rate-limits")).globalRpm,
		    600);
	});
	await step("no_secret_in_page", async () => {
		await page.click("nav .tab[data-page=accounts]");
		await page.waitForSelector("#acct-table tbody tr[data-id]");
		const html = await page.content();
		for (const s of secrets.concat([adminKey]))
			assert.ok(!html.includes(s), "a secret is in the page: " +
			    s.slice(0, 6) + "…");
		if (process.env.KIRO_SCREENSHOT)
			await page.screenshot({ path: process.env.KIRO_SCREENSHOT,
			    fullPage: true });
		return html.length;
	});
	await step("log_out", async () => {
		await page.click("#logout");
		await page.waitForSelector("#page-login:not([hidden])");
		assert.equal(await page.evaluate(() =>
		    sessionStorage.getItem("kiroAdminKey")), null);
	});
	current = "page problems";
	assert.deepEqual(problems, []);
} catch (err) {
	console.error(`step ${current} failed: ${err.stack || err}`);
	console.error("problems: " + JSON.stringify(problems));
	process.exitCode = 1;
} finally {
	await browser.close();
}
console.log(JSON.stringify(summary));
