// ui-driver.mjs: drives the web UI in Debian's Chromium with playwright-core.
//
// Run by tests/ui/test_ui.py, which starts the mock upstream and the gateway
// behind a real server and passes (environment):
//   KIRO_NODE_MODULES  node_modules holding playwright-core
//   KIRO_UI_URL        the UI, e.g. http://127.0.0.1:PORT/admin/
//   KIRO_API_PREFIX    the gateway's mount as typed in the login form
//   KIRO_ADMIN_KEY     adminApiKey;  KIRO_CLIENT_KEY  apiKey
//   KIRO_MOCK_URL      the mock's base URL (its /_mock/ control API)
//   KIRO_IMPORT_FILE   a kiro.rs credentials.json to import through the page
//   KIRO_SECRETS       a JSON array of strings the page must never hold
//   KIRO_SCREENSHOT    where to save a screenshot of the accounts page
//   KIRO_README_SHOT   where to save README's 1280x800 shot of the overview
// Each step asserts what it sees against the admin API, read directly with
// the admin key; the first failure ends the run with a non-zero exit and
// the step's name.  The last stdout line is a JSON summary for the Python
// side.  Only loopback addresses may be fetched: anything else is aborted
// and fails the run, as does any error in the page's console.

import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
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
const gatewayBase = new URL(uiURL).origin + prefix;
const apiBase = gatewayBase + "/api/admin/";

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
	const requested = [];
	page.on("request", (r) => requested.push(r.url()));
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
	/* A "saved" left by an earlier step must not pass for this one's. */
	async function clearNotice() {
		await page.evaluate(() => {
			document.querySelector("#notice").textContent = "";
		});
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
		/* The overview is the first page. */
		await page.waitForSelector("#page-overview:not([hidden])");
		await page.waitForSelector("#ov-quota .qrow[data-id]");
		await page.waitForSelector("#ov-chart g.hour");
		assert.equal(await page.isVisible("#page-login"), false);
	});
	const fmt = (v) => typeof v !== "number" ? "" :
	    Number.isInteger(v) ? String(v) : v.toFixed(2);
	async function rowIds(sel, attr) {
		return page.locator(sel).evaluateAll((rows, a) =>
		    rows.map((r) => r.getAttribute(a)), attr);
	}
	const figure = (box, k) => page.locator(
	    `#${box} [data-figure="${k}"] dd`).innerText();
	await step("overview_matches_api", async () => {
		/*
		 * The page's figures and the API's from one moment: the overview
		 * is shown again (it loads afresh) and then the API is asked.
		 */
		await Promise.all([page.waitForResponse((r) =>
		    r.url().includes("/api/admin/stats?hours=24")),
		    page.click("nav .tab[data-page=overview]")]);
		/* Drawn once every fetch of the page is over. */
		await page.waitForLoadState("networkidle");
		const [list, usage, stats] = await Promise.all([
		    admin("GET", "credentials"), admin("GET", "usage"),
		    admin("GET", "stats?hours=24")]);
		const health = await (await fetch(gatewayBase + "/health",
		    { headers: { "x-api-key": adminKey } })).json();
		assert.equal(await figure("ov-health", "status"), health.status);
		assert.ok(health.version, "/health gives the admin key a version");
		assert.equal(await figure("ov-health", "version"), health.version);
		assert.equal(await figure("ov-health", "total"),
		    String(health.accounts.total));
		assert.equal(await figure("ov-health", "usable"),
		    String(health.accounts.usable));
		const states = {};
		for (const c of list.credentials)
			states[c.state] = (states[c.state] || 0) + 1;
		for (const [st, n] of Object.entries(states))
			assert.equal(await figure("ov-states", st), String(n), st);
		assert.equal(await page.locator("#ov-states [data-figure]")
		    .count(), Object.keys(states).length);
		assert.equal(await figure("ov-totals", "requests"),
		    String(stats.total.requests));
		assert.equal(await figure("ov-totals", "errors"),
		    String(stats.total.errors));
		const bars = await page.locator("#ov-chart g.hour").evaluateAll(
		    (gs) => gs.map((g) => [Number(g.dataset.requests),
		    Number(g.dataset.errors)]));
		assert.deepEqual(bars, stats.hourly.map((h) => [h.requests,
		    h.errors]));
		const byId = new Map(usage.accounts.map((a) => [a.id, a.usage]));
		const qids = await rowIds("#ov-quota .qrow", "data-id");
		assert.deepEqual(qids.map(Number), list.credentials.map((c) => c.id));
		for (const c of list.credentials) {
			const u = byId.get(c.id);
			const txt = await page.locator(`#ov-quota .qrow[data-id="${c.id}"] .qtext`).innerText();
			assert.equal(txt, u ? fmt(u.currentUsage) + " / " +
			    fmt(u.usageLimit) : "unknown", `quota of ${c.id}`);
		}
		return stats.total.requests;
	});
	/* --- languages and a phone screen -------------------------------- */
	const langTables = await page.evaluate(() => window.KIRO_LANG);
	/* Text shown anywhere on the page: visible elements only. */
	const shownText = () => page.evaluate(() => document.body.innerText);
	await step("language", async () => {
		const en = langTables.en, zh = langTables["zh-CN"];
		assert.deepEqual(Object.keys(zh).sort(), Object.keys(en).sort());
		assert.equal(await page.locator("#lang").inputValue(), "en");
		await page.selectOption("#lang", "zh-CN");
		await page.waitForFunction(() => document.documentElement.lang ===
		    "zh-CN" && document.querySelector("#ov-updated")
		    .textContent.startsWith("更新于"));
		/* Every tagged element holds its Chinese string. */
		const tagged = await page.locator("[data-i18n]").evaluateAll(
		    (es) => es.map((e) => [e.dataset.i18n, e.textContent]));
		for (const [k, txt] of tagged)
			assert.equal(txt, zh[k], k);
		/*
		 * No English label from the table shows, on any page.  State
		 * names and "none" are left out: the server's data (error
		 * types, "(none)" groups) holds the same words.
		 */
		const english = Object.keys(en).filter((k) => en[k] !== zh[k] &&
		    !k.startsWith("state.") && k !== "none")
		    .flatMap((k) => en[k].split(/\{\d+\}/))
		    .map((x) => x.trim()).filter((x) => /[A-Za-z]{3}/.test(x));
		const found = [];
		for (const p of ["overview", "accounts", "usage", "flows",
		    "stats", "keys", "settings"]) {
			await page.click(`nav .tab[data-page=${p}]`);
			await page.waitForSelector(`#page-${p}:not([hidden])`);
			await page.waitForLoadState("networkidle");
			const shown = await shownText();
			if (p === "overview")
				await shot("zh-overview");
			for (const e of english) {
				const re = new RegExp("(^|[^A-Za-z])" + e.replace(
				    /[.*+?^${}()|[\]\\]/g, "\\$&") + "($|[^A-Za-z])");
				if (re.test(shown))
					found.push(p + ": " + e);
			}
		}
		assert.deepEqual(found, []);
		assert.equal(await page.evaluate(() =>
		    localStorage.getItem("kiroLang")), "zh-CN");
		/* Kept across a reload; then back to English. */
		await page.reload();
		await page.waitForSelector("#page-overview:not([hidden])");
		assert.equal(await page.locator("nav .tab[data-page=overview]")
		    .innerText(), zh["h.overview"]);
		await page.selectOption("#lang", "en");
		await page.waitForFunction(() =>
		    document.documentElement.lang === "en");
		for (const [k, txt] of await page.locator("[data-i18n]")
		    .evaluateAll((es) => es.map((e) => [e.dataset.i18n,
		    e.textContent])))
			assert.equal(txt, en[k], k);
		return english.length;
	});
	await step("language_from_browser", async () => {
		/* A Chinese browser with no choice stored gets Chinese. */
		const zhContext = await browser.newContext({ locale: "zh-CN" });
		try {
			const zhPage = await zhContext.newPage();
			await zhPage.goto(uiURL);
			await zhPage.waitForFunction(() =>
			    document.documentElement.lang === "zh-CN");
			assert.equal(await zhPage.locator("#page-login h2")
			    .innerText(), langTables["zh-CN"]["h.log_in"]);
			assert.equal(await zhPage.locator("#lang").inputValue(),
			    "zh-CN");
			if (process.env.KIRO_SCREENSHOT)
				await zhPage.screenshot({ path: process.env
				    .KIRO_SCREENSHOT.replace(/(\.png)?$/,
				    "-zh.png") });
		} finally {
			await zhContext.close();
		}
	});
	await step("phone", async () => {
		await page.setViewportSize({ width: 375, height: 812 });
		await page.click("#menu");
		await page.click("nav .tab[data-page=overview]");
		await page.waitForSelector("#ov-quota .qrow[data-id]");
		await page.waitForLoadState("networkidle");
		/* Folded: the menu shows, the tabs do not until it is opened. */
		assert.equal(await page.isVisible("#menu"), true);
		assert.equal(await page.isVisible("nav .tab[data-page=stats]"),
		    false);
		const widths = {};
		for (const p of ["overview", "accounts", "flows", "stats",
		    "keys", "settings", "usage"]) {
			await page.click("#menu");
			assert.equal(await page.isVisible(
			    `nav .tab[data-page=${p}]`), true);
			await page.click(`nav .tab[data-page=${p}]`);
			await page.waitForSelector(`#page-${p}:not([hidden])`);
			await page.waitForLoadState("networkidle");
			widths[p] = await page.evaluate(() =>
			    document.documentElement.scrollWidth);
			assert.ok(widths[p] <= 375, `${p} is ${widths[p]} px wide`);
		}
		await shot("phone");
		await page.setViewportSize({ width: 1280, height: 800 });
		assert.equal(await page.isVisible("#menu"), false);
		return widths;
	});
	await step("accounts_match_api", async () => {
		await page.click("nav .tab[data-page=accounts]");
		await page.waitForSelector("#acct-table tbody tr[data-id]");
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
	/* --- the Requests, Stats and Keys pages ---------------------------- */
	const both = (a, b) => (a === undefined ? "" : String(a)) + " / " +
	    (b === undefined ? "" : String(b));
	const cellTexts = (loc) => loc.locator("td").evaluateAll((tds) =>
	    tds.map((td) => td.textContent));
	const flowRows = "#flow-table tbody tr[data-id]";
	async function waitRows(sel, n) {
		await page.waitForFunction(([s, k]) =>
		    document.querySelectorAll(s).length === k, [sel, n]);
	}
	/* Records are written after the answer: wait for them. */
	async function waitFlows(n) {
		for (let i = 0; i < 300; i++) {
			const r = await admin("GET", "flows?limit=1000");
			if (r.flows.length >= n)
				return r.flows;
			await new Promise((res) => setTimeout(res, 100));
		}
		throw new Error(`fewer than ${n} flow records`);
	}
	async function messages(apiKey) {
		const resp = await fetch(gatewayBase + "/v1/messages", {
		    method: "POST", headers: { "x-api-key": apiKey,
		    "content-type": "application/json" },
		    body: JSON.stringify({ model: env("KIRO_MODEL"),
		    max_tokens: 64, messages: [{ role: "user",
		    content: "Say hello" }] }) });
		await resp.arrayBuffer();
		return resp.status;
	}
	const clientKeys = [];
	/* KIRO_SCREENSHOT=x.png: also x-flows.png, x-stats.png, x-keys.png. */
	async function shot(name) {
		const to = process.env.KIRO_SCREENSHOT;
		if (to)
			await page.screenshot({ path: to.replace(/(\.png)?$/,
			    "-" + name + ".png"), fullPage: true });
	}

	await step("flows_page", async () => {
		/* The login's wrong prefix is an API request (404) already. */
		const before = (await admin("GET", "flows?limit=1000")).flows.length;
		assert.equal(await messages(clientKey), 200);
		assert.equal(await messages(clientKey), 200);
		/* Kiro fails every attempt: retried, then overloaded. */
		await mock("script", { match: {}, times: -1,
		    response: "server_error" });
		try {
			assert.equal(await messages(clientKey), 529);
		} finally {
			await mock("scripts/clear", {});
		}
		const recs = await waitFlows(before + 3);
		await page.click("nav .tab[data-page=flows]");
		await page.waitForSelector("#page-flows:not([hidden])");
		await waitRows(flowRows, recs.length);
		assert.deepEqual(await rowIds(flowRows, "data-id"),
		    recs.map((r) => r.id));
		for (const r of recs) {
			const c = await cellTexts(page.locator(
			    `${flowRows}[data-id="${r.id}"]`));
			assert.deepEqual(c.slice(1), [r.key ?? "", r.api, r.route,
			    r.model ? r.model + (r.kiroModel ? " → " + r.kiroModel :
			    "") : "", r.stream === true ? "yes" :
			    r.stream === false ? "no" : "",
			    r.account ? String(r.account) : "", String(r.status),
			    (r.errorType ? r.errorType + ": " : "") + (r.error ?? ""),
			    fmt(r.attempts), fmt(r.latencyMs), fmt(r.ttfbMs),
			    both(r.inputTokens, r.outputTokens),
			    both(r.requestBytes, r.answerBytes)], r.id);
		}
		assert.equal(recs[0].status, 529);
		assert.equal(recs[0].errorType, "overloaded");
		await shot("flows");
		return recs.filter((r) => r.route === "/v1/messages").length;
	});
	await step("flows_filter", async () => {
		const all = (await admin("GET", "flows?limit=1000")).flows.length;
		const failed = (await admin("GET", "flows?status=5xx")).flows;
		assert.equal(failed.length, 1);
		assert.equal(failed[0].status, 529);
		await page.fill("#ff-status", "5xx");
		await page.click("#flow-filter button[type=submit]");
		await waitRows(flowRows, 1);
		assert.deepEqual(await rowIds(flowRows, "data-id"), [failed[0].id]);
		await page.fill("#ff-status", "");
		await page.fill("#ff-q", "no such error text");
		await page.click("#flow-filter button[type=submit]");
		await waitRows(flowRows, 0);
		await page.fill("#ff-q", "");
		/* The account and API filters, as the API narrows them. */
		await page.fill("#ff-account", String(failed[0].account));
		await page.selectOption("#ff-api", "anthropic");
		const byAccount = (await admin("GET", "flows?api=anthropic&" +
		    "account=" + failed[0].account)).flows.map((r) => r.id);
		assert.ok(byAccount.length > 0 && byAccount.length < all);
		await page.click("#flow-filter button[type=submit]");
		await waitRows(flowRows, byAccount.length);
		assert.deepEqual(await rowIds(flowRows, "data-id"), byAccount);
		/* A time range in the future: nothing. */
		await page.click("#ff-clear");
		await waitRows(flowRows, all);
		await page.fill("#ff-from", "2099-01-01T00:00");
		await page.click("#flow-filter button[type=submit]");
		await waitRows(flowRows, 0);
		await page.click("#ff-clear");
		await waitRows(flowRows, all);
		return failed[0].id;
	});
	await step("flows_detail", async () => {
		const rec = (await admin("GET", "flows?limit=1")).flows[0];
		await page.locator(`${flowRows}[data-id="${rec.id}"]`).click();
		await page.waitForSelector("#flow-detail:not([hidden])");
		const shown = JSON.parse(await page.locator("#flow-detail-json")
		    .textContent());
		const api = (await admin("GET", "flows?id=" + rec.id)).flows[0];
		assert.deepEqual(shown, api);
		await page.click("#flow-detail-close");
		return rec.id;
	});
	await step("flows_export", async () => {
		const sizes = {};
		for (const format of ["jsonl", "csv"]) {
			const [dl] = await Promise.all([page.waitForEvent("download"),
			    page.click(`#flow-export-${format}`)]);
			assert.match(dl.suggestedFilename(), new RegExp(
			    `^kiro-flows-.*\\.${format}$`));
			const got = await readFile(await dl.path(), "utf8");
			const resp = await fetch(apiBase + "flows?format=" + format,
			    { headers: { "x-api-key": adminKey } });
			assert.equal(got, await resp.text(), format);
			sizes[format] = got.length;
		}
		const lines = (await readFile(await (await Promise.all([
		    page.waitForEvent("download"),
		    page.click("#flow-export-jsonl")]))[0].path(), "utf8"))
		    .trim().split("\n").map((l) => JSON.parse(l));
		const listed = (await admin("GET", "flows?limit=1000")).flows;
		assert.deepEqual(lines.map((r) => r.id), listed.map((r) => r.id));
		return sizes;
	});
	await step("stats_page", async () => {
		await page.click("nav .tab[data-page=stats]");
		await page.waitForSelector("#page-stats:not([hidden])");
		await page.waitForSelector("#stats-trend .col");
		const s = await admin("GET", "stats?hours=24");
		const figure = (k) => page.locator(
		    `#stats-total [data-figure="${k}"] dd`).textContent();
		assert.equal(await figure("Requests"), fmt(s.total.requests));
		assert.equal(await figure("Errors"), fmt(s.total.errors));
		assert.equal(await figure("Tokens in"), fmt(s.total.inputTokens));
		assert.equal(await figure("Tokens out"), fmt(s.total.outputTokens));
		assert.equal(await figure("Latency p95 ms"),
		    fmt(s.total.latencyP95Ms));
		const tables = await page.locator("#stats-tables .panel").all();
		const groups = [s.byAccount, s.byModel, s.byApi, s.byKey];
		assert.equal(tables.length, groups.length);
		for (let i = 0; i < groups.length; i++) {
			for (const g of groups[i]) {
				const c = await cellTexts(tables[i].locator(
				    `tbody tr[data-name="${g.name}"]`));
				const types = Object.entries(g.errorTypes || {})
				    .map(([t, n]) => t + ": " + n).join(", ");
				assert.deepEqual(c, [String(g.name), fmt(g.requests),
				    fmt(g.errors), types, fmt(g.inputTokens),
				    fmt(g.outputTokens), fmt(g.latencyP50Ms),
				    fmt(g.latencyP95Ms)], g.name);
			}
		}
		const cols = await page.locator("#stats-trend .col").evaluateAll(
		    (cs) => cs.map((c) => [Number(c.dataset.requests),
		    Number(c.dataset.errors)]));
		assert.deepEqual(cols, s.hourly.map((h) => [h.requests, h.errors]));
		assert.equal(cols.reduce((a, [r]) => a + r, 0), s.total.requests);
		await shot("stats");
		/* Every request in the log so far, and no other. */
		assert.equal(s.total.requests,
		    (await admin("GET", "flows?limit=1000")).flows.length);
		return s.total.requests;
	});
	const keyRow = (name) => page.locator(
	    `#key-table tbody tr[data-name="${name}"]`);
	await step("key_add", async () => {
		await page.click("nav .tab[data-page=keys]");
		await page.waitForSelector("#page-keys:not([hidden])");
		await page.click("#keys-show-add");
		await page.fill("#key-name", "ui-key");
		await page.fill("#key-rpm", "60");
		await page.fill("#key-mreq", "1000");
		await page.click("#key-add button[type=submit]");
		await page.waitForSelector("#key-dialog[open]");
		const value = await waitText("#key-value", /^kf-/);
		clientKeys.push(value);
		await shot("keys");
		/* Shown in the dialog, kept nowhere. */
		const stored = await page.evaluate(() => JSON.stringify(
		    [Object.entries(sessionStorage), Object.entries(localStorage)]));
		assert.ok(!stored.includes(value), "the client key is stored");
		await page.click("#key-dialog-close");
		await page.waitForSelector("#key-dialog", { state: "hidden" });
		assert.equal(await page.locator("#key-value").textContent(), "");
		assert.ok(!(await page.content()).includes(value));
		const k = (await admin("GET", "keys")).keys.find((x) =>
		    x.name === "ui-key");
		assert.ok(value.startsWith(k.keyPrefix));
		await keyRow("ui-key").waitFor();
		const c = await cellTexts(keyRow("ui-key"));
		assert.deepEqual(c.slice(0, 7), ["ui-key", "active",
		    k.keyPrefix + "…", "all", "60 rpm, 1000 req/month", "",
		    "0 requests, 0 tokens"]);
		return k.keyPrefix;
	});
	await step("key_works", async () => {
		assert.equal(await messages(clientKeys[0]), 200);
		await page.click("#keys-reload");
		await page.waitForFunction(() => /^1 requests/.test(
		    document.querySelector('#key-table tr[data-name="ui-key"] ' +
		    "td:nth-child(7)").textContent));
		/* The Requests page finds its call by the key's name. */
		for (let i = 0; i < 300 && (await admin("GET",
		    "flows?key=ui-key")).flows.length === 0; i++)
			await new Promise((res) => setTimeout(res, 100));
		await page.click("nav .tab[data-page=flows]");
		await page.fill("#ff-key", "ui-key");
		await page.click("#flow-filter button[type=submit]");
		await waitRows(flowRows, 1);
		const c = await cellTexts(page.locator(flowRows));
		assert.deepEqual([c[1], c[7]], ["ui-key", "200"]);
		await page.click("#ff-clear");
		await page.click("nav .tab[data-page=keys]");
		await keyRow("ui-key").waitFor();
	});
	await step("key_disable", async () => {
		await keyRow("ui-key").locator("button.disable").click();
		await keyRow("ui-key").locator("button.enable").waitFor();
		const k = (await admin("GET", "keys")).keys.find((x) =>
		    x.name === "ui-key");
		assert.equal(k.state, "disabled");
		assert.equal(await messages(clientKeys[0]), 401);
		await keyRow("ui-key").locator("button.enable").click();
		await keyRow("ui-key").locator("button.disable").waitFor();
	});
	await step("key_rotate", async () => {
		await keyRow("ui-key").locator("button.rotate").click();
		await page.waitForSelector("#key-dialog[open]");
		const value = await waitText("#key-value", /^kf-/);
		assert.notEqual(value, clientKeys[0]);
		clientKeys.push(value);
		await page.keyboard.press("Escape");
		await page.waitForSelector("#key-dialog", { state: "hidden" });
		/* The dialog's close event clears it; it comes just after. */
		await page.waitForFunction(() =>
		    document.querySelector("#key-value").textContent === "",
		    null, { timeout: 5000 });
		assert.equal(await messages(clientKeys[0]), 401);
		assert.equal(await messages(value), 200);
	});
	await step("key_remove", async () => {
		await keyRow("ui-key").locator("button.remove").click();
		await keyRow("ui-key").waitFor({ state: "detached" });
		assert.equal((await admin("GET", "keys")).keys.length, 0);
		assert.equal(await messages(clientKeys[1]), 401);
		await page.click("nav .tab[data-page=accounts]");
		await page.waitForSelector("#acct-table tbody tr[data-id]");
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
		await clearNotice();
		await page.click("#set-lb button[type=submit]");
		await waitText("#notice", /saved/);
		assert.equal((await admin("GET", "config/load-balancing")).mode,
		    "balanced");
	});
	await step("rate_limits", async () => {
		await page.fill("#lim-global", "600");
		await clearNotice();
		await page.click("#set-limits button[type=submit]");
		/* The field reads 600 at once; "saved" comes after the PUT. */
		await waitText("#notice", /saved/);
		assert.equal((await admin("GET", "config/rate-limits")).globalRpm,
		    600);
	});
	await step("model_map", async () => {
		/* A name added on the page is what the gateway maps with. */
		await page.fill("#mm-name", "ui-fast-model");
		await page.fill("#mm-target", "claude-haiku-4.5");
		await page.click("#mm-add");
		await page.waitForSelector("#mm-rows tr[data-name='ui-fast-model']");
		await clearNotice();
		await page.click("#set-modelmap button[type=submit]");
		await waitText("#notice", /saved/);
		let mm = await admin("GET", "config/model-map");
		assert.equal(mm.source, "admin");
		assert.deepEqual(mm.modelMap, { "ui-fast-model": "claude-haiku-4.5" });
		await page.waitForFunction(() => document.querySelector(
		    "#mm-source").textContent.length > 0);
		/* The row's Remove button takes a name out before saving. */
		await page.fill("#mm-name", "ui-gone");
		await page.fill("#mm-target", "claude-haiku-4.5");
		await page.click("#mm-add");
		await page.locator("#mm-rows tr[data-name='ui-gone'] button.remove")
		    .click();
		await page.waitForSelector("#mm-rows tr[data-name='ui-gone']",
		    { state: "detached" });
		mm = await admin("GET", "config/model-map");
		assert.deepEqual(mm.modelMap, { "ui-fast-model": "claude-haiku-4.5" });
		/* Back to config.json's (none here). */
		await clearNotice();
		await page.click("#mm-reset");
		await waitText("#notice", /modelMap/);
		mm = await admin("GET", "config/model-map");
		assert.equal(mm.source, "config");
		assert.deepEqual(mm.modelMap, {});
		await page.waitForSelector("#mm-rows tr:not([data-name])");
		return Object.keys(mm.modelMap).length;
	});
	await step("no_secret_in_page", async () => {
		await page.click("nav .tab[data-page=accounts]");
		await page.waitForSelector("#acct-table tbody tr[data-id]");
		const html = await page.content();
		for (const s of secrets.concat([adminKey], clientKeys))
			assert.ok(!html.includes(s), "a secret is in the page: " +
			    s.slice(0, 6) + "…");
		/* Storage: the admin key in sessionStorage, nothing else. */
		const stored = JSON.parse(await page.evaluate(() =>
		    JSON.stringify([Object.entries(sessionStorage),
		    Object.entries(localStorage)])));
		assert.deepEqual(stored[0], [["kiroAdminKey", adminKey]]);
		const rest = JSON.stringify(stored[1]);
		for (const s of secrets.concat([adminKey], clientKeys))
			assert.ok(!rest.includes(s), "a secret is in storage: " +
			    s.slice(0, 6) + "…");
		assert.ok(!requested.some((u) => u.includes(adminKey)),
		    "the admin key went into a URL");
		if (process.env.KIRO_SCREENSHOT)
			await page.screenshot({ path: process.env.KIRO_SCREENSHOT,
			    fullPage: true });
		return html.length;
	});
	/* KIRO_README_SHOT: the overview with this run's data, for README. */
	if (process.env.KIRO_README_SHOT) {
		await step("readme_screenshot", async () => {
			await page.setViewportSize({ width: 1280, height: 800 });
			await page.click("nav .tab[data-page=overview]");
			await page.waitForSelector("#ov-chart g.hour");
			await page.waitForLoadState("networkidle");
			await page.screenshot({ path: process.env.KIRO_README_SHOT });
			return process.env.KIRO_README_SHOT;
		});
	}
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
