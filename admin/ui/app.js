/* app.js: the kiro-fcgi web UI: pages over the admin API (/api/admin/). */
"use strict";

(function () {
	/*
	 * Every value from the server goes into the page through textContent
	 * or a form field's value, never as HTML: an email or an upstream
	 * error message cannot become markup.
	 */
	const KEY_STORE = "kiroAdminKey";	/* sessionStorage: this tab only */
	const BASE_STORE = "kiroApiBase";	/* localStorage: not a secret */
	const DEFAULT_BASE = "/kiro";
	const HISTORY_SHOWN = 5;

	let key = sessionStorage.getItem(KEY_STORE);
	let base = localStorage.getItem(BASE_STORE);
	let login = null;	/* the Builder ID login being waited for */

	if (base === null)
		base = DEFAULT_BASE;

	function $(id) {
		return document.getElementById(id);
	}

	/* --- languages -------------------------------------------------------- */

	/*
	 * Every visible string comes from one table per language (lang-*.js,
	 * loaded before this file), English being the fallback.  The choice
	 * is kept in localStorage (not a secret); the first time it follows
	 * the browser's language.
	 */
	const LANG_STORE = "kiroLang";
	const LANGS = window.KIRO_LANG || {};
	let lang = pickLang();

	function pickLang() {
		const saved = localStorage.getItem(LANG_STORE);
		if (saved !== null && LANGS[saved])
			return saved;
		for (const l of navigator.languages || [navigator.language])
			if (/^zh\b/i.test(l || ""))
				return "zh-CN";
		return "en";
	}

	/* The string named key, with {0}, {1}... replaced by args. */
	function t(key, ...args) {
		const table = LANGS[lang] || {};
		const en = LANGS.en || {};
		const text = key in table ? table[key] : key in en ? en[key] : key;
		return text.replace(/\{(\d+)\}/g, (m, i) =>
		    args[i] === undefined ? m : String(args[i]));
	}

	/* A state the server names (ok, cooldown...), in the language. */
	function stateName(st) {
		const table = LANGS[lang] || {};
		return table["state." + st] !== undefined ? table["state." + st] :
		    String(st);
	}

	/* The static page's strings; the page shown is drawn again. */
	function applyLang() {
		document.documentElement.lang = lang;
		document.title = t("title");
		for (const e of document.querySelectorAll("[data-i18n]"))
			e.textContent = t(e.dataset.i18n);
		for (const e of document.querySelectorAll("[data-i18n-aria]"))
			e.setAttribute("aria-label", t(e.dataset.i18nAria));
		$("lang").value = lang;
	}

	function setLang(l) {
		if (!LANGS[l])
			return;
		lang = l;
		localStorage.setItem(LANG_STORE, l);
		applyLang();
		const shown = document.querySelector("main > section:not([hidden])");
		const page = shown ? shown.id.replace(/^page-/, "") : "";
		if (key && pages[page])
			guarded(pages[page]);
	}

	/* An element with text or child nodes; attrs are properties. */
	function el(tag, attrs, ...children) {
		const e = document.createElement(tag);

		for (const [k, v] of Object.entries(attrs || {})) {
			if (k === "class")
				e.className = v;
			else if (k.includes("-"))
				e.setAttribute(k, v);
			else
				e[k] = v;
		}
		for (const c of children) {
			if (c === null || c === undefined)
				continue;
			e.append(c instanceof Node ? c : String(c));
		}
		return e;
	}

	function notice(text, isError) {
		const n = $("notice");

		n.textContent = text;
		n.className = isError ? "error" : "ok";
	}

	/* The admin key is refused or the API is off: back to the login. */
	class AuthError extends Error {}

	function authMessage(status, message) {
		if (status === 401)
			return t("auth.401");
		if (status === 403)
			return t("auth.403");
		return t("auth.404") + (message ? t("auth.said", message) : "");
	}

	/*
	 * One admin API call.  Resolves to the answer's JSON; rejects with
	 * an Error whose message is the gateway's, or an AuthError.
	 */
	async function api(method, path, body, rawBody) {
		const opts = { method: method, headers: { "x-api-key": key },
		    cache: "no-store", credentials: "omit" };
		let resp, data = null;

		if (rawBody !== undefined) {
			opts.body = rawBody;
			opts.headers["content-type"] = "application/json";
		} else if (body !== undefined) {
			opts.body = JSON.stringify(body);
			opts.headers["content-type"] = "application/json";
		}
		try {
			resp = await fetch(base + "/api/admin/" + path, opts);
		} catch (e) {
			throw new Error(t("err.unreachable", e.message));
		}
		try {
			data = await resp.json();
		} catch (e) {
			data = null;
		}
		const msg = data && data.error && typeof data.error.message ===
		    "string" ? data.error.message : "";
		if (resp.status === 401 || resp.status === 403)
			throw new AuthError(authMessage(resp.status, msg));
		/* A 404 for the list itself: there is no admin API there. */
		if (resp.status === 404 && path === "credentials")
			throw new AuthError(authMessage(404, msg));
		if (!resp.ok)
			throw new Error(msg || "HTTP " + resp.status);
		return data;
	}

	/* Runs an action; any failure becomes the notice (or the login). */
	async function guarded(fn) {
		try {
			return await fn();
		} catch (e) {
			if (e instanceof AuthError)
				logout(e.message);
			else
				notice(e.message, true);
			return undefined;
		}
	}

	function when(v) {
		if (v === null || v === undefined || v === "")
			return "";
		const d = typeof v === "number" ? new Date(v * 1000) :
		    new Date(v);
		return isNaN(d) ? String(v) : d.toLocaleString(lang);
	}

	function num(v) {
		if (typeof v !== "number")
			return "";
		return Number.isInteger(v) ? String(v) : v.toFixed(2);
	}

	/* --- pages ---------------------------------------------------------- */

	const pages = { overview: loadOverview, accounts: loadAccounts, usage: loadUsage,
	    flows: loadFlows, stats: loadStats, keys: loadKeys,
	    settings: loadSettings };

	/* The folded navigation of a narrow screen. */
	function menu(open) {
		$("nav").classList.toggle("open", open);
		$("menu").setAttribute("aria-expanded", String(open));
	}

	function show(page) {
		menu(false);
		$("notice").textContent = "";
		for (const s of document.querySelectorAll("main > section"))
			s.hidden = s.id !== "page-" + page;
		for (const b of document.querySelectorAll("nav .tab"))
			b.classList.toggle("active", b.dataset.page === page);
		if (pages[page])
			guarded(pages[page]);
	}

	function logout(message) {
		key = null;
		sessionStorage.removeItem(KEY_STORE);
		stopLogin();
		closeKey();
		$("nav").hidden = true;
		$("menu").hidden = true;
		$("notice").textContent = "";
		$("login-error").textContent = message || "";
		$("login-key").value = "";
		$("login-base").value = base;
		show("login");
	}

	async function doLogin(ev) {
		ev.preventDefault();
		key = $("login-key").value.trim();
		base = $("login-base").value.trim().replace(/\/+$/, "");
		localStorage.setItem(BASE_STORE, base);
		$("login-error").textContent = "";
		try {
			await api("GET", "credentials");
		} catch (e) {
			key = null;
			$("login-error").textContent = e.message;
			return;
		}
		sessionStorage.setItem(KEY_STORE, key);
		$("login-key").value = "";
		$("nav").hidden = false;
		$("menu").hidden = false;
		show("overview");
	}

	/* --- overview ------------------------------------------------------- */

	const SVG_NS = "http://www.w3.org/2000/svg";

	/* An SVG element; attrs are attributes (SVG has no properties). */
	function svg(tag, attrs, text) {
		const e = document.createElementNS(SVG_NS, tag);

		for (const [k, v] of Object.entries(attrs || {}))
			e.setAttribute(k, String(v));
		if (text !== undefined)
			e.textContent = text;
		return e;
	}

	function figures(id, pairs) {
		$(id).replaceChildren(...pairs.map(([k, label, v]) =>
		    el("div", { "data-figure": k }, el("dt", {}, label),
		    el("dd", {}, v))));
	}

	/*
	 * GET /health with the admin key: the status for anyone, the version
	 * and the account counts for the key.  A 500 (no state) still has
	 * its JSON.
	 */
	async function health() {
		let resp, data = null;

		try {
			resp = await fetch(base + "/health", { headers:
			    { "x-api-key": key }, cache: "no-store",
			    credentials: "omit" });
			data = await resp.json();
		} catch (e) {
			return { status: t("ov.unreachable") };
		}
		return data && typeof data === "object" ? data :
		    { status: "HTTP " + resp.status };
	}

	/* One bar per hour: its height is requests, the red part errors. */
	function drawChart(hourly) {
		const W = 720, H = 200, TOP = 10, BOTTOM = 22, LEFT = 34;
		const plot = H - TOP - BOTTOM;
		const step = (W - LEFT) / Math.max(1, hourly.length);
		const max = Math.max(1, ...hourly.map((h) => h.requests || 0));
		const chart = svg("svg", { viewBox: "0 0 " + W + " " + H,
		    role: "img", "aria-label": t("ov.chart") });

		chart.append(svg("line", { class: "axis", x1: LEFT, x2: W,
		    y1: TOP + plot, y2: TOP + plot }));
		chart.append(svg("text", { x: LEFT - 4, y: TOP + 8,
		    "text-anchor": "end" }, String(max)));
		chart.append(svg("text", { x: LEFT - 4, y: TOP + plot,
		    "text-anchor": "end" }, "0"));
		hourly.forEach((h, i) => {
			const req = h.requests || 0, err = h.errors || 0;
			const x = LEFT + i * step + 1, w = Math.max(1, step - 2);
			const hReq = plot * req / max, hErr = plot * err / max;
			const g = svg("g", { class: "hour", "data-requests": req,
			    "data-errors": err });
			g.append(svg("title", {}, t("ov.bar", new Date(h.start)
			    .toLocaleString(lang), req, err)));
			g.append(svg("rect", { class: "ok", x: x, width: w,
			    y: TOP + plot - hReq, height: hReq }));
			g.append(svg("rect", { class: "bad", x: x, width: w,
			    y: TOP + plot - hErr, height: hErr }));
			if (i % 6 === 0)
				g.append(svg("text", { x: x, y: H - 6 },
				    new Date(h.start).toLocaleTimeString(lang,
				    { hour: "2-digit", minute: "2-digit" })));
			chart.append(g);
		});
		$("ov-chart").replaceChildren(chart);
	}

	function quotaRows(list, usage) {
		const byId = new Map();
		for (const a of usage.accounts || [])
			byId.set(a.id, a.usage);
		const rows = (list.credentials || []).map((c) => el("div",
		    { class: "qrow", "data-id": String(c.id) },
		    el("span", { class: "qname" }, "#" + c.id + " " +
			(c.email || "")),
		    quotaBar(byId.get(c.id)),
		    el("span", { class: "qtext" }, quotaText(byId.get(c.id)))));
		if (rows.length === 0)
			rows.push(el("p", { class: "muted" }, t("ov.none")));
		$("ov-quota").replaceChildren(...rows);
	}

	async function loadOverview() {
		const [list, usage, stats, h] = await Promise.all([
		    api("GET", "credentials"), api("GET", "usage"),
		    api("GET", "stats?hours=24"), health()]);
		const states = new Map();
		for (const c of list.credentials || [])
			states.set(c.state, (states.get(c.state) || 0) + 1);
		const acc = h.accounts || {};
		figures("ov-health", [["status", t("ov.status"),
		    stateName(String(h.status))],
		    ["version", t("ov.version"), h.version || ""],
		    ["total", t("ov.accounts"), num(acc.total)],
		    ["usable", t("ov.usable"), num(acc.usable)]]);
		const stateFigures = [...states.entries()].sort().map(([st, n]) =>
		    [st, stateName(st), String(n)]);
		if (stateFigures.length === 0)
			stateFigures.push(["none", t("ov.accounts"), "0"]);
		figures("ov-states", stateFigures);
		const tot = stats.total || {};
		const hourly = stats.hourly || [];
		figures("ov-totals", [["requests", t("ov.requests"),
		    num(tot.requests)],
		    ["errors", t("ov.errors"), num(tot.errors)],
		    ["peak", t("ov.peak"), String(Math.max(0,
		    ...hourly.map((x) => x.requests || 0)))]]);
		drawChart(hourly);
		quotaRows(list, usage);
		$("ov-updated").textContent = t("ov.asof",
		    new Date().toLocaleTimeString(lang));
	}

	/* --- accounts ------------------------------------------------------- */

	function quotaBar(u) {
		const pct = u ? Math.max(0, Math.min(100,
		    u.usagePercentage || 0)) : 0;
		const bar = el("span", { class: "bar" });
		bar.append(el("span", { class: pct >= 90 ? "fill high" :
		    "fill" }));
		bar.firstChild.style.width = pct + "%";
		return bar;
	}

	function quotaText(u) {
		return u ? num(u.currentUsage) + " / " + num(u.usageLimit) :
		    t("q.unknown");
	}

	function quotaCell(u) {
		if (!u)
			return el("span", { class: "muted" }, quotaText(u));
		return el("span", { class: "quota" }, quotaBar(u),
		    quotaText(u));
	}

	function stateCell(c) {
		const parts = [el("span", { class: "state state-" +
		    String(c.state).replace(/[^a-z-]/g, "") }, stateName(c.state))];

		if (c.disabledReason)
			parts.push(el("div", { class: "muted" }, c.disabledReason));
		if (c.cooldownUntil)
			parts.push(el("div", { class: "muted" }, t("acct.until",
			    when(c.cooldownUntil))));
		return parts;
	}

	function actionButton(label, fn, cls) {
		return el("button", { type: "button", class: cls || "",
		    onclick: () => guarded(fn) }, label);
	}

	async function act(method, path, body) {
		const r = await api(method, path, body);
		notice(r && r.message ? r.message : t("done"), false);
		await loadAccounts();
		return r;
	}

	function accountRow(c, usage) {
		const id = c.id;
		const prio = el("input", { type: "number", min: 0,
		    value: c.priority, class: "prio",
		    "aria-label": t("acct.prio_aria", id) });
		const history = el("tr", { class: "history", hidden: true });
		const row = el("tr", { "data-id": String(id) },
		    el("td", {}, String(id)),
		    el("td", {}, c.email || el("span", { class: "muted" },
			t("acct.noemail")), c.subscriptionTitle ?
			el("div", { class: "muted" }, c.subscriptionTitle) :
			null),
		    el("td", { class: "state-cell" }, ...stateCell(c)),
		    el("td", {}, prio, actionButton(t("b.set"), () =>
			act("POST", "credentials/" + id + "/priority",
			{ priority: Number(prio.value) }), "small set-prio")),
		    el("td", {}, c.authMethod),
		    el("td", {}, (c.hasProfileArn ? t("acct.profile") : t("acct.noprofile")) +
			" / " + (c.endpoint || "")),
		    el("td", { class: "quota-cell" }, quotaCell(usage)),
		    el("td", {}, t("acct.failures", c.failureCount,
			c.refreshFailureCount)),
		    el("td", { class: "lasterr" }, c.lastError || ""),
		    el("td", { class: "actions" },
			c.disabled ?
			actionButton(t("b.enable"), () => act("POST", "credentials/" +
			    id + "/disabled", { disabled: false }), "enable") :
			actionButton(t("b.disable"), () => act("POST",
			    "credentials/" + id + "/disabled",
			    { disabled: true }), "disable"),
			actionButton(t("b.reset"), () => act("POST", "credentials/" +
			    id + "/reset"), "reset"),
			actionButton(t("b.refresh_token"), () => act("POST",
			    "credentials/" + id + "/refresh"), "refresh"),
			actionButton(t("b.balance"), () => balance(id, row),
			    "balance"),
			actionButton(t("b.history"), () => toggleHistory(id,
			    history), "history"),
			actionButton(t("b.delete"), () => remove(c), "danger delete")));
		return [row, history];
	}

	async function balance(id, row) {
		notice(t("acct.asking", id), false);
		const u = await api("GET", "credentials/" + id + "/balance");
		const cell = row.querySelector(".quota-cell");
		cell.replaceChildren(quotaCell(u));
		notice(t("acct.balance", id, num(u.currentUsage),
		    num(u.usageLimit)), false);
	}

	async function toggleHistory(id, tr) {
		if (!tr.hidden) {
			tr.hidden = true;
			return;
		}
		const r = await api("GET", "accounts/" + id + "/history");
		const entries = (r.history || []).slice(-HISTORY_SHOWN).reverse();
		const list = el("ul", {});
		for (const h of entries)
			list.append(el("li", {}, when(h.at) + ": " +
			    (h.from || "") + " → " + (h.to || "") +
			    (h.reason ? " (" + h.reason + ")" : "")));
		if (entries.length === 0)
			list.append(el("li", { class: "muted" },
			    t("acct.nohistory")));
		tr.replaceChildren(el("td", { colSpan: 10 }, list));
		tr.hidden = false;
	}

	async function remove(c) {
		const who = c.email ? c.email : t("acct.who", c.id);
		if (!c.disabled) {
			notice(t("acct.inservice", c.id), true);
			return;
		}
		if (!window.confirm(t("acct.confirm", who, c.id)))
			return;
		await act("DELETE", "credentials/" + c.id);
	}

	async function loadAccounts() {
		const [list, usage] = await Promise.all([
		    api("GET", "credentials"), api("GET", "usage")]);
		const byId = new Map();
		for (const a of usage.accounts || [])
			byId.set(a.id, a.usage);
		const body = $("acct-table").tBodies[0];
		const rows = [];
		for (const c of list.credentials || [])
			rows.push(...accountRow(c, byId.get(c.id)));
		if (rows.length === 0)
			rows.push(el("tr", {}, el("td", { colSpan: 10,
			    class: "muted" }, t("acct.empty"))));
		body.replaceChildren(...rows);
		$("acct-summary").textContent = t("acct.summary", list.total,
		    list.available);
	}

	async function addAccount(ev) {
		ev.preventDefault();
		const text = $("add-json").value.trim();
		let r;

		if (text !== "") {
			r = await api("POST", "credentials/import", undefined,
			    text);
		} else {
			const cred = { refreshToken: $("add-refresh").value.trim(),
			    authMethod: $("add-method").value,
			    priority: Number($("add-priority").value || 0) };
			const opt = { clientId: "add-client-id",
			    clientSecret: "add-client-secret",
			    region: "add-region", email: "add-email" };
			for (const [k, id] of Object.entries(opt))
				if ($(id).value.trim() !== "")
					cred[k] = $(id).value.trim();
			r = await api("POST", "credentials", cred);
		}
		$("acct-add").reset();
		$("acct-add").hidden = true;
		notice(r.message, false);
		await loadAccounts();
	}

	async function importFile() {
		const input = $("acct-import");
		const file = input.files[0];

		if (!file)
			return;
		const text = await file.text();
		input.value = "";
		const r = await api("POST", "credentials/import", undefined,
		    text);
		notice(file.name + ": " + r.message, false);
		await loadAccounts();
	}

	/* --- Builder ID device login ---------------------------------------- */

	function stopLogin() {
		if (login !== null && login.timer)
			clearTimeout(login.timer);
		login = null;
		$("builder").hidden = true;
	}

	async function startLogin() {
		stopLogin();
		const r = await api("POST", "login/builder-id", {});
		const link = $("builder-link");
		const url = r.verificationUriComplete || r.verificationUri;

		/* Only a web address becomes a link. */
		link.textContent = url;
		link.removeAttribute("href");
		if (/^https?:\/\//i.test(url))
			link.href = url;
		$("builder-code").textContent = r.userCode;
		$("builder").hidden = false;
		login = { id: r.loginId, interval: r.interval || 5,
		    started: Date.now(), polls: 0, timer: null };
		$("builder-status").textContent = t("login.waiting");
		schedulePoll();
	}

	/* A failed check (Kiro's OIDC service down) is tried again. */
	function schedulePoll() {
		const mine = login;
		mine.timer = setTimeout(async () => {
			try {
				await pollLogin(mine);
			} catch (e) {
				if (e instanceof AuthError) {
					logout(e.message);
					return;
				}
				if (login !== mine)
					return;
				$("builder-status").textContent = t("login.retry",
				    e.message);
				schedulePoll();
			}
		}, mine.interval * 1000);
	}

	async function pollLogin(mine) {
		if (login !== mine)
			return;
		const r = await api("GET", "login/" + mine.id);
		if (login !== mine)
			return;
		mine.polls++;
		const secs = Math.round((Date.now() - mine.started) / 1000);
		const status = $("builder-status");
		if (r.interval)
			mine.interval = r.interval;
		switch (r.status) {
		case "pending":
		case "slow_down":
			status.textContent = t("login.polling", secs, mine.polls);
			schedulePoll();
			return;
		case "approved":
			login = null;
			$("builder").hidden = true;
			notice(t(r.duplicate ? "login.approved_dup" :
			    "login.approved", r.accountId), false);
			await loadAccounts();
			return;
		default:
			login = null;
			status.textContent = t(r.status === "denied" ?
			    "login.denied" : "login.expired", r.message ? ": " +
			    r.message : "");
			notice(status.textContent, true);
		}
	}

	/* --- usage ---------------------------------------------------------- */

	async function loadUsage() {
		const r = await api("GET", "usage");
		const rows = [];
		for (const a of r.accounts || []) {
			const u = a.usage;
			rows.push(el("tr", { "data-id": String(a.id) },
			    el("td", {}, String(a.id)),
			    el("td", {}, a.email || ""),
			    el("td", {}, u ? u.subscriptionTitle || "" : ""),
			    el("td", {}, u ? num(u.currentUsage) : ""),
			    el("td", {}, u ? num(u.usageLimit) : ""),
			    el("td", {}, u ? num(u.remaining) : ""),
			    el("td", {}, u ? quotaCell(u) : el("span",
				{ class: "muted" }, t("usage.notyet"))),
			    el("td", {}, u ? when(u.nextResetAt) : ""),
			    el("td", {}, u ? when(u.fetchedAt) : "")));
		}
		$("usage-table").tBodies[0].replaceChildren(...rows);
	}

	/* One account after the other, with the count shown as it goes. */
	async function fetchAllUsage() {
		const r = await api("GET", "usage");
		const ids = (r.accounts || []).map((a) => a.id);
		const progress = $("usage-progress");
		let failed = 0, last = "";

		for (let i = 0; i < ids.length; i++) {
			progress.textContent = t("usage.fetching", i + 1,
			    ids.length);
			try {
				await api("GET", "credentials/" + ids[i] +
				    "/balance");
			} catch (e) {
				if (e instanceof AuthError)
					throw e;
				failed++;
				last = e.message;
			}
		}
		progress.textContent = t("usage.done", ids.length - failed,
		    ids.length) + (failed ? t("usage.failed", failed, last) : "");
		await loadUsage();
	}

	/* --- requests (the flow log) ---------------------------------------- */

	let flowOffset = 0;

	/* The filters as the API's query, without paging. */
	function flowFilters() {
		const q = new URLSearchParams();
		const text = { status: "ff-status", api: "ff-api",
		    model: "ff-model", account: "ff-account", key: "ff-key",
		    q: "ff-q" };

		for (const [name, id] of [["from", "ff-from"], ["to", "ff-to"]]) {
			const v = $(id).value;
			if (v === "")
				continue;
			const ms = new Date(v).getTime();
			if (!isNaN(ms))
				q.set(name, String(ms));
		}
		for (const [name, id] of Object.entries(text)) {
			const v = $(id).value.trim();
			if (v !== "")
				q.set(name, v);
		}
		return q;
	}

	function flowCell(text, cls) {
		return el("td", cls ? { class: cls } : {}, text);
	}

	function pair(a, b) {
		return (a === undefined ? "" : String(a)) + " / " +
		    (b === undefined ? "" : String(b));
	}

	function flowRow(r) {
		const model = r.model ? r.model + (r.kiroModel ? " → " +
		    r.kiroModel : "") : "";
		const status = typeof r.status === "number" ? r.status : 0;
		const row = el("tr", { "data-id": String(r.id) },
		    flowCell(r.t ? new Date(r.t).toLocaleString(lang) : "", "nowrap"),
		    flowCell(r.key || ""),
		    flowCell(r.api || ""),
		    flowCell(r.route || "", "wrap"),
		    flowCell(model),
		    flowCell(r.stream === true ? t("yes") : r.stream === false ?
			t("no") : ""),
		    flowCell(r.account ? String(r.account) : ""),
		    flowCell(String(r.status), status >= 400 ? "bad" : "good"),
		    flowCell((r.errorType ? r.errorType + ": " : "") +
			(r.error || ""), "lasterr"),
		    flowCell(num(r.attempts)),
		    flowCell(num(r.latencyMs)),
		    flowCell(num(r.ttfbMs)),
		    flowCell(pair(r.inputTokens, r.outputTokens), "nowrap"),
		    flowCell(pair(r.requestBytes, r.answerBytes), "nowrap"));
		row.addEventListener("click", () => guarded(() =>
		    flowDetail(r.id)));
		return row;
	}

	async function loadFlows() {
		const q = flowFilters();
		q.set("limit", $("ff-limit").value);
		q.set("offset", String(flowOffset));
		const r = await api("GET", "flows?" + q.toString());
		const list = r.flows || [];
		const rows = list.map(flowRow);

		if (rows.length === 0)
			rows.push(el("tr", {}, el("td", { colSpan: 14,
			    class: "muted" }, t("flows.none"))));
		$("flow-table").tBodies[0].replaceChildren(...rows);
		$("flow-prev").disabled = flowOffset === 0;
		$("flow-next").disabled = !r.more;
		$("flow-page").textContent = list.length === 0 ? "" :
		    (flowOffset + 1) + "–" + (flowOffset + list.length) +
		    (r.more ? t("flows.more") : "");
		$("flow-summary").textContent = t("flows.newest");
	}

	async function flowDetail(id) {
		const r = await api("GET", "flows?id=" + encodeURIComponent(id));
		const rec = (r.flows || [])[0];

		if (!rec) {
			notice(t("flows.gone", id), true);
			return;
		}
		$("flow-detail-id").textContent = String(id);
		$("flow-detail-json").textContent = JSON.stringify(rec, null, 2);
		$("flow-detail").hidden = false;
		$("flow-detail").scrollIntoView({ block: "nearest" });
	}

	/*
	 * An export needs the admin key, which never goes into a URL: fetch
	 * it with the header and hand the browser the answer as a Blob.
	 */
	async function exportFlows(format) {
		const q = flowFilters();
		q.set("format", format);
		let resp;

		notice(t("flows.exporting"), false);
		try {
			resp = await fetch(base + "/api/admin/flows?" +
			    q.toString(), { headers: { "x-api-key": key },
			    cache: "no-store", credentials: "omit" });
		} catch (e) {
			throw new Error(t("err.unreachable", e.message));
		}
		if (resp.status === 401 || resp.status === 403)
			throw new AuthError(authMessage(resp.status, ""));
		if (!resp.ok) {
			let msg = "HTTP " + resp.status;
			try {
				msg = (await resp.json()).error.message || msg;
			} catch (e) {
				/* Not JSON: the status says it. */
			}
			throw new Error(msg);
		}
		const blob = await resp.blob();
		const url = URL.createObjectURL(blob);
		const stamp = new Date().toISOString().replace(/[:.]/g, "-");
		const a = el("a", { href: url, download: "kiro-flows-" + stamp +
		    "." + format });
		document.body.append(a);
		a.click();
		a.remove();
		setTimeout(() => URL.revokeObjectURL(url), 60000);
		notice(t("flows.exported", blob.size, format), false);
	}

	/* --- stats ---------------------------------------------------------- */

	function errorTypes(g) {
		return Object.entries(g.errorTypes || {}).map(([t, n]) =>
		    t + ": " + n).join(", ");
	}

	function statsTable(title, groups) {
		const head = el("tr", {}, ...["st.name", "st.requests",
		    "st.errors", "st.bytype", "st.tin", "st.tout", "st.p50",
		    "st.p95"].map((h) => el("th", {}, t(h))));
		const rows = (groups || []).map((g) => el("tr",
		    { "data-name": String(g.name) },
		    el("td", {}, String(g.name)), el("td", {}, num(g.requests)),
		    el("td", {}, num(g.errors)), el("td", {}, errorTypes(g)),
		    el("td", {}, num(g.inputTokens)),
		    el("td", {}, num(g.outputTokens)),
		    el("td", {}, num(g.latencyP50Ms)),
		    el("td", {}, num(g.latencyP95Ms))));
		if (rows.length === 0)
			rows.push(el("tr", {}, el("td", { colSpan: 8,
			    class: "muted" }, t("st.none"))));
		return el("div", { class: "panel" }, el("h3", {}, title),
		    el("div", { class: "scroll" }, el("table", {},
		    el("thead", {}, head), el("tbody", {}, ...rows))));
	}

	/* One column per hour: its height is requests, the red part errors. */
	function drawTrend(hourly) {
		const max = Math.max(1, ...hourly.map((h) => h.requests || 0));
		const cols = hourly.map((h) => {
			const col = el("div", { class: "col", title:
			    t("ov.bar", new Date(h.start).toLocaleString(lang),
			    h.requests || 0, h.errors || 0),
			    "data-requests": String(h.requests || 0),
			    "data-errors": String(h.errors || 0) });
			const ok = el("span", { class: "ok" });
			const bad = el("span", { class: "bad" });
			ok.style.height = (100 * ((h.requests || 0) -
			    (h.errors || 0)) / max) + "%";
			bad.style.height = (100 * (h.errors || 0) / max) + "%";
			col.append(bad, ok);
			return col;
		});
		$("stats-trend").replaceChildren(...cols);
		const first = hourly.length ? new Date(hourly[0].start) : null;
		$("stats-trend-axis").replaceChildren(
		    el("span", {}, first ? first.toLocaleString(lang) : ""),
		    el("span", {}, t("st.peak", max)),
		    el("span", {}, t("st.now")));
	}

	async function loadStats() {
		const r = await api("GET", "stats?hours=" + $("stats-hours").value);
		const tot = r.total || {};

		/* data-figure names a figure whatever the language. */
		$("stats-total").replaceChildren(el("dl", { class: "figures" },
		    ...[["Requests", "st.requests", num(tot.requests)],
		    ["Errors", "st.errors", num(tot.errors)],
		    ["Errors by type", "st.bytype", errorTypes(tot) || t("none")],
		    ["Tokens in", "st.tin", num(tot.inputTokens)],
		    ["Tokens out", "st.tout", num(tot.outputTokens)],
		    ["Latency p50 ms", "st.lp50", num(tot.latencyP50Ms)],
		    ["Latency p95 ms", "st.lp95", num(tot.latencyP95Ms)]].map(
		    ([k, label, v]) => el("div", { "data-figure": k },
		    el("dt", {}, t(label)), el("dd", {}, v)))));
		drawTrend(r.hourly || []);
		$("stats-tables").replaceChildren(
		    statsTable(t("st.pacct"), r.byAccount),
		    statsTable(t("st.pmodel"), r.byModel),
		    statsTable(t("st.papi"), r.byApi),
		    statsTable(t("st.pkey"), r.byKey));
		$("stats-tables").dataset.hours = String(r.hours ||
		    $("stats-hours").value);
	}

	/* --- client keys ---------------------------------------------------- */

	function limitsText(l) {
		const parts = [];
		if (l && l.rpm)
			parts.push(t("k.rpm", l.rpm));
		if (l && l.monthlyRequests)
			parts.push(t("k.mreq", l.monthlyRequests));
		if (l && l.monthlyTokens)
			parts.push(t("k.mtok", l.monthlyTokens));
		return parts.length ? parts.join(", ") : t("none");
	}

	async function keyAct(method, path, body, what) {
		const r = await api(method, path, body);
		notice(what, false);
		await loadKeys();
		return r;
	}

	function keyRow(k) {
		const name = encodeURIComponent(k.name);
		const u = k.usage || {};
		return el("tr", { "data-name": k.name },
		    el("td", {}, k.name),
		    el("td", {}, el("span", { class: "state state-" +
			String(k.state).replace(/[^a-z-]/g, "") }, stateName(k.state))),
		    el("td", { class: "mono" }, (k.keyPrefix || "") + "…"),
		    el("td", {}, (k.models || []).join(", ") || t("k.all")),
		    el("td", {}, limitsText(k.limits)),
		    el("td", {}, k.expires || ""),
		    el("td", {}, t("k.usage", num(u.requests), num(u.tokens))),
		    el("td", { class: "actions" },
			k.disabled ?
			actionButton(t("b.enable"), () => keyAct("POST", "keys/" +
			    name + "/disabled", { disabled: false },
			    t("k.enabled", k.name)), "enable") :
			actionButton(t("b.disable"), () => keyAct("POST", "keys/" +
			    name + "/disabled", { disabled: true },
			    t("k.disabled", k.name)), "disable"),
			actionButton(t("b.rotate"), () => rotateKey(k.name), "rotate"),
			actionButton(t("b.remove"), () => removeKey(k.name),
			    "danger remove")));
	}

	async function loadKeys() {
		const r = await api("GET", "keys");
		const rows = (r.keys || []).map(keyRow);
		if (rows.length === 0)
			rows.push(el("tr", {}, el("td", { colSpan: 8,
			    class: "muted" }, t("k.none"))));
		$("key-table").tBodies[0].replaceChildren(...rows);
	}

	/* The new key lives in the dialog only, and only until it closes. */
	function showKey(name, value) {
		$("key-dialog-name").textContent = name;
		$("key-value").textContent = value;
		$("key-copied").textContent = "";
		$("key-dialog").showModal();
	}

	function closeKey() {
		$("key-value").textContent = "";
		$("key-copied").textContent = "";
		if ($("key-dialog").open)
			$("key-dialog").close();
	}

	async function copyKey() {
		const value = $("key-value").textContent;
		try {
			await navigator.clipboard.writeText(value);
			$("key-copied").textContent = t("k.copied");
		} catch (e) {
			/* No clipboard access: select it for Ctrl-C. */
			const range = document.createRange();
			range.selectNodeContents($("key-value"));
			getSelection().removeAllRanges();
			getSelection().addRange(range);
			$("key-copied").textContent = t("k.selected");
		}
	}

	function count(id) {
		return Number($(id).value || 0);
	}

	async function addKey(ev) {
		ev.preventDefault();
		const body = { name: $("key-name").value.trim(),
		    rpm: count("key-rpm"), monthlyRequests: count("key-mreq"),
		    monthlyTokens: count("key-mtok") };
		const models = $("key-models").value.split(",")
		    .map((m) => m.trim()).filter((m) => m !== "");

		if (models.length)
			body.models = models;
		if ($("key-expires").value !== "")
			body.expires = $("key-expires").value;
		const r = await api("POST", "keys", body);
		$("key-add").reset();
		$("key-add").hidden = true;
		notice(t("k.added", r.name), false);
		showKey(r.name, r.key);
		await loadKeys();
	}

	async function rotateKey(name) {
		if (!window.confirm(t("k.confirm_rotate", name)))
			return;
		const r = await api("POST", "keys/" + encodeURIComponent(name) +
		    "/rotate");
		notice(t("k.rotated", name), false);
		showKey(r.name, r.key);
		await loadKeys();
	}

	async function removeKey(name) {
		if (!window.confirm(t("k.confirm_remove", name)))
			return;
		await keyAct("DELETE", "keys/" + encodeURIComponent(name),
		    undefined, t("k.removed", name));
	}

	/* --- settings ------------------------------------------------------- */

	async function loadSettings() {
		const [lb, lim, sticky, mm] = await Promise.all([
		    api("GET", "config/load-balancing"),
		    api("GET", "config/rate-limits"),
		    api("GET", "config/sticky-seconds"),
		    api("GET", "config/model-map")]);
		$("lb-mode").value = lb.mode;
		$("lim-interval").value = lim.minIntervalMs;
		$("lim-account").value = lim.perAccountRpm;
		$("lim-global").value = lim.globalRpm;
		$("sticky-seconds").value = sticky.stickySeconds;
		showModelMap(mm);
	}

	/* --- the model map: client name -> Kiro model, kept in order ------- */

	let modelMap = [];

	function modelMapRows() {
		$("mm-rows").replaceChildren(...modelMap.map(([name, target], i) =>
		    el("tr", { "data-name": name },
			el("td", { class: "mono" }, name),
			el("td", { class: "mono" }, target),
			el("td", { class: "actions" },
			    actionButton(t("b.remove"), () => {
				modelMap.splice(i, 1);
				modelMapRows();
			    }, "danger remove")))));
		if (modelMap.length === 0)
			$("mm-rows").append(el("tr", {}, el("td",
			    { colSpan: 3, class: "muted" }, t("mm.empty"))));
	}

	function showModelMap(mm) {
		modelMap = Object.entries(mm.modelMap || {});
		$("mm-source").textContent = t(mm.source === "admin" ?
		    "mm.source_admin" : "mm.source_config");
		modelMapRows();
	}

	function addModelName() {
		const name = $("mm-name").value.trim();
		const target = $("mm-target").value.trim();

		if (name === "" || target === "")
			return;
		modelMap = modelMap.filter(([n]) => n !== name);
		modelMap.push([name, target]);
		$("mm-name").value = "";
		$("mm-target").value = "";
		modelMapRows();
	}

	async function saveModelMap(ev) {
		ev.preventDefault();
		await api("PUT", "config/model-map",
		    { modelMap: Object.fromEntries(modelMap) });
		notice(t("saved"), false);
		await loadSettings();
	}

	async function resetModelMap() {
		await api("DELETE", "config/model-map");
		notice(t("mm.reset"), false);
		await loadSettings();
	}

	async function saveSetting(ev, method, path, body) {
		ev.preventDefault();
		await api(method, path, body);
		notice(t("saved"), false);
		await loadSettings();
	}

	/*
	 * The first time, the API prefix is guessed: the shipped mount /kiro
	 * or the root, whichever answers GET /health (no key needed).
	 */
	async function guessBase() {
		await guessFrom([DEFAULT_BASE, ""]);
		$("login-base").dataset.guessed = "1";
	}

	async function guessFrom(candidates) {
		for (const candidate of candidates) {
			try {
				const r = await fetch(candidate + "/health",
				    { cache: "no-store", credentials: "omit" });
				const j = await r.json();
				if (r.ok && j && typeof j === "object" &&
				    localStorage.getItem(BASE_STORE) === null) {
					base = candidate;
					$("login-base").value = base;
					return;
				}
			} catch (e) {
				/* Not there: try the next one. */
			}
		}
	}

	/* --- wiring --------------------------------------------------------- */

	function on(id, event, fn) {
		$(id).addEventListener(event, (ev) => guarded(() => fn(ev)));
	}

	document.addEventListener("DOMContentLoaded", () => {
		applyLang();
		$("lang").addEventListener("change", () => setLang($("lang").value));
		$("login-form").addEventListener("submit", doLogin);
		$("logout").addEventListener("click", () => logout(""));
		$("menu").addEventListener("click", () =>
		    menu(!$("nav").classList.contains("open")));
		for (const b of document.querySelectorAll("nav .tab"))
			b.addEventListener("click", () => show(b.dataset.page));
		on("ov-reload", "click", loadOverview);
		on("acct-reload", "click", loadAccounts);
		$("acct-show-add").addEventListener("click", () => {
			$("acct-add").hidden = !$("acct-add").hidden;
		});
		$("add-cancel").addEventListener("click", () => {
			$("acct-add").reset();
			$("acct-add").hidden = true;
		});
		on("acct-add", "submit", addAccount);
		on("acct-import", "change", importFile);
		on("login-start", "click", startLogin);
		$("builder-cancel").addEventListener("click", stopLogin);
		on("usage-reload", "click", loadUsage);
		on("usage-fetch", "click", fetchAllUsage);
		on("flow-filter", "submit", (ev) => {
			ev.preventDefault();
			flowOffset = 0;
			return loadFlows();
		});
		on("ff-clear", "click", () => {
			$("flow-filter").reset();
			flowOffset = 0;
			return loadFlows();
		});
		on("flow-prev", "click", () => {
			flowOffset = Math.max(0, flowOffset -
			    Number($("ff-limit").value));
			return loadFlows();
		});
		on("flow-next", "click", () => {
			flowOffset += Number($("ff-limit").value);
			return loadFlows();
		});
		on("flow-export-jsonl", "click", () => exportFlows("jsonl"));
		on("flow-export-csv", "click", () => exportFlows("csv"));
		$("flow-detail-close").addEventListener("click", () => {
			$("flow-detail").hidden = true;
		});
		on("stats-reload", "click", loadStats);
		on("stats-hours", "change", loadStats);
		on("keys-reload", "click", loadKeys);
		$("keys-show-add").addEventListener("click", () => {
			$("key-add").hidden = !$("key-add").hidden;
		});
		$("key-add-cancel").addEventListener("click", () => {
			$("key-add").reset();
			$("key-add").hidden = true;
		});
		on("key-add", "submit", addKey);
		on("key-copy", "click", copyKey);
		$("key-dialog-close").addEventListener("click", closeKey);
		/* Esc closes it too: forget the key then as well. */
		$("key-dialog").addEventListener("close", closeKey);
		on("set-lb", "submit", (ev) => saveSetting(ev, "PUT",
		    "config/load-balancing", { mode: $("lb-mode").value }));
		on("set-limits", "submit", (ev) => saveSetting(ev, "PUT",
		    "config/rate-limits", {
			minIntervalMs: Number($("lim-interval").value),
			perAccountRpm: Number($("lim-account").value),
			globalRpm: Number($("lim-global").value) }));
		on("set-sticky", "submit", (ev) => saveSetting(ev, "PUT",
		    "config/sticky-seconds",
		    { stickySeconds: Number($("sticky-seconds").value) }));
		$("mm-add").addEventListener("click", addModelName);
		on("set-modelmap", "submit", saveModelMap);
		on("mm-reset", "click", resetModelMap);
		$("login-base").value = base;
		if (localStorage.getItem(BASE_STORE) === null)
			guessBase();
		if (key) {
			$("nav").hidden = false;
			$("menu").hidden = false;
			show("overview");
		} else
			show("login");
	});
})();
