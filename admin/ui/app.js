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
			return "Wrong admin key: the gateway refused it (401).";
		if (status === 403)
			return "This is the client API key (apiKey): the admin " +
			    "pages need adminApiKey (403).";
		return "The admin API is off or not at this prefix (404): set " +
		    "adminApiKey in the gateway's config.json (it must differ " +
		    "from apiKey), and check the API prefix." +
		    (message ? " The gateway said: " + message : "");
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
			throw new Error("the gateway cannot be reached: " +
			    e.message);
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
		return isNaN(d) ? String(v) : d.toLocaleString();
	}

	function num(v) {
		if (typeof v !== "number")
			return "";
		return Number.isInteger(v) ? String(v) : v.toFixed(2);
	}

	/* --- pages ---------------------------------------------------------- */

	const pages = { accounts: loadAccounts, usage: loadUsage,
	    settings: loadSettings };

	function show(page) {
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
		$("nav").hidden = true;
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
		show("accounts");
	}

	/* --- accounts ------------------------------------------------------- */

	function quotaCell(u) {
		if (!u)
			return el("span", { class: "muted" }, "unknown");
		const pct = Math.max(0, Math.min(100, u.usagePercentage || 0));
		const bar = el("span", { class: "bar" });
		bar.append(el("span", { class: pct >= 90 ? "fill high" :
		    "fill" }));
		bar.firstChild.style.width = pct + "%";
		return el("span", { class: "quota" }, bar,
		    num(u.currentUsage) + " / " + num(u.usageLimit));
	}

	function stateCell(c) {
		const parts = [el("span", { class: "state state-" +
		    String(c.state).replace(/[^a-z-]/g, "") }, c.state)];

		if (c.disabledReason)
			parts.push(el("div", { class: "muted" }, c.disabledReason));
		if (c.cooldownUntil)
			parts.push(el("div", { class: "muted" }, "until " +
			    when(c.cooldownUntil)));
		return parts;
	}

	function actionButton(label, fn, cls) {
		return el("button", { type: "button", class: cls || "",
		    onclick: () => guarded(fn) }, label);
	}

	async function act(method, path, body) {
		const r = await api(method, path, body);
		notice(r && r.message ? r.message : "done", false);
		await loadAccounts();
		return r;
	}

	function accountRow(c, usage) {
		const id = c.id;
		const prio = el("input", { type: "number", min: 0,
		    value: c.priority, class: "prio",
		    "aria-label": "priority of account " + id });
		const history = el("tr", { class: "history", hidden: true });
		const row = el("tr", { "data-id": String(id) },
		    el("td", {}, String(id)),
		    el("td", {}, c.email || el("span", { class: "muted" },
			"(no email)"), c.subscriptionTitle ?
			el("div", { class: "muted" }, c.subscriptionTitle) :
			null),
		    el("td", { class: "state-cell" }, ...stateCell(c)),
		    el("td", {}, prio, actionButton("Set", () =>
			act("POST", "credentials/" + id + "/priority",
			{ priority: Number(prio.value) }), "small set-prio")),
		    el("td", {}, c.authMethod),
		    el("td", {}, (c.hasProfileArn ? "profile" : "no profile") +
			" / " + (c.endpoint || "")),
		    el("td", { class: "quota-cell" }, quotaCell(usage)),
		    el("td", {}, String(c.failureCount) + " / refresh " +
			String(c.refreshFailureCount)),
		    el("td", { class: "lasterr" }, c.lastError || ""),
		    el("td", { class: "actions" },
			c.disabled ?
			actionButton("Enable", () => act("POST", "credentials/" +
			    id + "/disabled", { disabled: false }), "enable") :
			actionButton("Disable", () => act("POST",
			    "credentials/" + id + "/disabled",
			    { disabled: true }), "disable"),
			actionButton("Reset", () => act("POST", "credentials/" +
			    id + "/reset"), "reset"),
			actionButton("Refresh token", () => act("POST",
			    "credentials/" + id + "/refresh"), "refresh"),
			actionButton("Balance", () => balance(id, row),
			    "balance"),
			actionButton("History", () => toggleHistory(id,
			    history), "history"),
			actionButton("Delete", () => remove(c), "danger delete")));
		return [row, history];
	}

	async function balance(id, row) {
		notice("asking Kiro for account " + id + "'s balance…", false);
		const u = await api("GET", "credentials/" + id + "/balance");
		const cell = row.querySelector(".quota-cell");
		cell.replaceChildren(quotaCell(u));
		notice("account " + id + ": " + num(u.currentUsage) + " of " +
		    num(u.usageLimit) + " used", false);
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
			    "no state changes yet"));
		tr.replaceChildren(el("td", { colSpan: 10 }, list));
		tr.hidden = false;
	}

	async function remove(c) {
		const who = c.email ? c.email : "account " + c.id;
		if (!c.disabled) {
			notice("account " + c.id + " is in service: disable it " +
			    "first", true);
			return;
		}
		if (!window.confirm("Delete " + who + " (id " + c.id + ")? Its " +
		    "credential is removed from the gateway."))
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
			    class: "muted" }, "No accounts yet: add one, " +
			    "import a credentials file or log in with " +
			    "Builder ID.")));
		body.replaceChildren(...rows);
		$("acct-summary").textContent = "(" + list.total + " in all, " +
		    list.available + " available)";
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
		$("builder-status").textContent = "Waiting for the approval " +
		    "in the browser…";
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
				$("builder-status").textContent = "The last check " +
				    "failed (" + e.message + "); trying again…";
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
			status.textContent = "Waiting for the approval in the " +
			    "browser… (" + secs + " s, " + mine.polls +
			    " checks)";
			schedulePoll();
			return;
		case "approved":
			login = null;
			$("builder").hidden = true;
			notice("Builder ID login approved: " + (r.duplicate ?
			    "already account " : "added as account ") +
			    r.accountId, false);
			await loadAccounts();
			return;
		default:
			login = null;
			status.textContent = "The login " + (r.status === "denied" ?
			    "was denied" : "expired") + (r.message ? ": " +
			    r.message : "") + ". Start a new one.";
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
				{ class: "muted" }, "not fetched yet")),
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
			progress.textContent = "fetching " + (i + 1) + " of " +
			    ids.length + "…";
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
		progress.textContent = (ids.length - failed) + " of " +
		    ids.length + " fetched" + (failed ? ", " + failed +
		    " failed (last: " + last + ")" : "");
		await loadUsage();
	}

	/* --- settings ------------------------------------------------------- */

	async function loadSettings() {
		const [lb, lim, sticky] = await Promise.all([
		    api("GET", "config/load-balancing"),
		    api("GET", "config/rate-limits"),
		    api("GET", "config/sticky-seconds")]);
		$("lb-mode").value = lb.mode;
		$("lim-interval").value = lim.minIntervalMs;
		$("lim-account").value = lim.perAccountRpm;
		$("lim-global").value = lim.globalRpm;
		$("sticky-seconds").value = sticky.stickySeconds;
	}

	async function saveSetting(ev, method, path, body) {
		ev.preventDefault();
		await api(method, path, body);
		notice("saved", false);
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
		$("login-form").addEventListener("submit", doLogin);
		$("logout").addEventListener("click", () => logout(""));
		for (const b of document.querySelectorAll("nav .tab"))
			b.addEventListener("click", () => show(b.dataset.page));
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
		$("login-base").value = base;
		if (localStorage.getItem(BASE_STORE) === null)
			guessBase();
		if (key) {
			$("nav").hidden = false;
			show("accounts");
		} else
			show("login");
	});
})();
